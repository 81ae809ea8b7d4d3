"""Remote use over the API: what a sync costs on the wire and in time, and how the local copy's search compares
with the server's, for the starter KB and a synthetic KB of N articles, against a real `kb serve`.

Measured, in one run per KB:
  full sync (pages)  GET /v1/sync from no cursor, pages of 500, gzip: bytes on the wire, pages, seconds;
  bundle             GET /v1/export/bundle: bytes and seconds, the first request (built) and a repeat (kept);
  first client sync  `RemoteSession.sync()` on an empty copy: download the bundle, install it, index (seconds);
  one-change delta   after one article is edited and published: GET /v1/sync?since=cursor (bytes, seconds) and
                     the client's `sync()` (the page, applying it, embedding that article locally);
  search             the starter questions, server (GET /v1/search over loopback) against the local copy
                     (`LocalCopy.search`, in process, warm): p50/p95 latency, and how often the two agree (the
                     same top article; the same top three in order).
Baselines in the same run: the delta against the full sync, the local search against the server's.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/remote_sync.py --work /tmp/kb-remote [--articles 10000]

`--articles 0` runs the starter KB alone. Reusing `--work` reuses the synthetic articles and their index.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python bench/remote_sync.py` from anywhere
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.server import KB_SERVE_NO_REINDEX, publish, running_server, server_environment  # noqa: E402
from bench.synthetic import generate_synthetic  # noqa: E402
from kb.remote.config import RemoteConfig, save_config  # noqa: E402
from kb.remote.local_copy import COPY_READER  # noqa: E402
from kb.remote.session import RemoteSession  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

console = Console()
QUESTIONS = REPO / "bench" / "questions" / "starter" / "queries.jsonl"


def questions(limit: int) -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()][:limit]


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def prepare(work: Path, articles: int) -> tuple[Settings, dict[str, str]]:
    """An indexed data dir (starter or synthetic) and three users' tokens: a reader and two IT agents."""
    if articles:
        folder = work / f"synthetic-{articles}-articles"
        generate_synthetic(folder, articles)
        settings = Settings(
            data_dir=work / f"synthetic-{articles}-data", articles_dir=folder, teams_file=folder / "teams.yaml"
        )
    else:
        settings = Settings(data_dir=work / "starter-data", articles_dir=REPO / "articles")
    kb = KnowledgeBase(settings)
    try:
        console.print(f"indexing {settings.articles_dir} (reused when unchanged)…")
        report, seconds = timed(kb.indexing.build)
        console.print(f"  {report.articles} articles, {report.build.chunks} chunks, {seconds:.1f}s")
        run = uuid.uuid4().hex[:6]
        tokens = {}
        for role, name in (("employee", "reader"), ("agent", "author"), ("agent", "reviewer")):
            teams = ["IT"] if role == "agent" else []
            _, tokens[name] = kb.users.add(f"bench-{name}-{run}", email=f"{name}@example.com", role=role, teams=teams)
    finally:
        kb.close()
    return settings, tokens


def paged_sync(base: str, token: str, since: str | None = None) -> tuple[int, int, int, int, str, float]:
    """(wire bytes, JSON bytes, pages, articles, cursor, seconds) of a sync from `since`, gzip accepted as a client
    would."""
    wire = raw = pages = count = 0
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
        while True:
            params: dict[str, Any] = {"limit": 500} | ({"since": since} if since else {})
            response = http.get("/v1/sync", params=params)
            response.raise_for_status()
            body = response.json()
            wire, raw = wire + response.num_bytes_downloaded, raw + len(response.content)
            pages, count, since = pages + 1, count + len(body["articles"]), body["cursor"]
            if not body["has_more"]:
                return wire, raw, pages, count, str(since), time.perf_counter() - started


def bundle_request(base: str, token: str) -> tuple[int, float]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
        response, seconds = timed(lambda: http.get("/v1/export/bundle"))
        response.raise_for_status()
        return len(response.content), seconds


def measure(label: str, work: Path, settings: Settings, tokens: dict[str, str], asked: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {"kb": label}
    env = server_environment(settings.data_dir, settings.articles_dir, {"KB_RATE_LIMIT_PER_MINUTE": "0"})
    if settings.teams_file is not None:
        env["KB_TEAMS_FILE"] = str(settings.teams_file)
    log = work / f"server-{label}.log"
    with running_server(KB_SERVE_NO_REINDEX, env, log, timeout=600) as server:
        base, reader = server.base, tokens["reader"]
        wire, raw, pages, count, cursor, seconds = paged_sync(base, reader)
        figures["full"] = {"bytes": wire, "json_bytes": raw, "pages": pages, "articles": count, "seconds": seconds}
        size, first = bundle_request(base, reader)
        _, again = bundle_request(base, reader)
        figures["bundle"] = {"bytes": size, "first_seconds": first, "repeat_seconds": again}

        home = work / f"remote-{label}-{uuid.uuid4().hex[:6]}"
        save_config(home, RemoteConfig(base, reader))
        session = RemoteSession(Settings(remote_home=home, remote_timeout_seconds=30))
        try:
            report, seconds = timed(session.sync)
            figures["client_first_sync"] = {"seconds": seconds, "articles": report.status.articles}

            # One change: an IT article edited by one agent and published by another, through the API.
            edited = next(a for a in session.copy.articles() if a.team == "IT")
            markdown = edited.markdown.rstrip() + f"\n\nAlso: restart the dock (bench {uuid.uuid4().hex[:6]}).\n"
            publish(base, tokens["author"], tokens["reviewer"], edited.id, markdown)
            wire, raw, pages, count, _, seconds = paged_sync(base, reader, cursor)
            figures["delta"] = {"bytes": wire, "json_bytes": raw, "pages": pages, "articles": count, "seconds": seconds}
            report, seconds = timed(session.sync)
            figures["client_delta_sync"] = {"seconds": seconds, "embedded": len(report.applied.index.embedded)}

            figures["search"] = compare_search(base, reader, session, asked)
        finally:
            session.close()
    return figures


def compare_search(base: str, token: str, session: RemoteSession, asked: list[str]) -> dict[str, Any]:
    searcher = session.copy.searcher()  # warm: the models and the index loaded once, as in a running client
    searcher.search(asked[0], 3, COPY_READER)
    server_ms, local_ms, same_top, same_three = [], [], 0, 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        http.get("/v1/search", params={"q": asked[0], "limit": 3})
        for question in asked:
            response, seconds = timed(partial(http.get, "/v1/search", params={"q": question, "limit": 3}))
            server_ms.append(seconds * 1000)
            served = [r["article_id"] for r in response.json()["results"]]
            outcome, seconds = timed(partial(searcher.search, question, 3, COPY_READER))
            local_ms.append(seconds * 1000)
            local = [h.article_id for h in outcome.hits]
            same_top += bool(served and local and served[0] == local[0])
            same_three += served == local
    return {
        "questions": len(asked),
        "server_p50_ms": statistics.median(server_ms),
        "server_p95_ms": percentile(server_ms, 0.95),
        "local_p50_ms": statistics.median(local_ms),
        "local_p95_ms": percentile(local_ms, 0.95),
        "same_top": same_top,
        "same_top3": same_three,
    }


def pair(figures: dict[str, Any], first: str, second: str, spec: str) -> str:
    return f"{format(figures[first], spec)} · {format(figures[second], spec)}"


def report(rows: list[dict[str, Any]]) -> None:
    table = Table(title="Remote sync and offline search", title_justify="left")
    for column in ("measure", *(r["kb"] for r in rows)):
        table.add_column(column, justify="right" if column != "measure" else "left")

    def row(name: str, cell: Callable[[dict[str, Any]], str]) -> None:
        table.add_row(name, *(cell(r) for r in rows))

    row("articles", lambda r: f"{r['full']['articles']:,}")
    row("full sync: wire bytes (gzip)", lambda r: f"{r['full']['bytes']:,}")
    row("full sync: JSON bytes", lambda r: f"{r['full']['json_bytes']:,}")
    row("full sync: pages · seconds", lambda r: f"{r['full']['pages']} · {r['full']['seconds']:.2f}")
    row("bundle: bytes", lambda r: f"{r['bundle']['bytes']:,}")
    row("bundle: first · repeat s", lambda r: pair(r["bundle"], "first_seconds", "repeat_seconds", ".2f"))
    row("client first sync s", lambda r: f"{r['client_first_sync']['seconds']:.1f}")
    row("one-change delta: wire bytes", lambda r: f"{r['delta']['bytes']:,}")
    row("one-change delta: JSON bytes", lambda r: f"{r['delta']['json_bytes']:,}")
    row("  vs full sync (bytes)", lambda r: f"{r['delta']['bytes'] / r['full']['bytes']:.4f}")
    row("one-change delta: seconds", lambda r: f"{r['delta']['seconds']:.3f}")
    row("  vs full sync (time)", lambda r: f"{r['delta']['seconds'] / r['full']['seconds']:.3f}")
    row("client delta sync s", lambda r: f"{r['client_delta_sync']['seconds']:.2f}")
    row("search p50 server · local ms", lambda r: pair(r["search"], "server_p50_ms", "local_p50_ms", ".1f"))
    row("search p95 server · local ms", lambda r: pair(r["search"], "server_p95_ms", "local_p95_ms", ".1f"))
    row("  local / server (p50)", lambda r: f"{r['search']['local_p50_ms'] / r['search']['server_p50_ms']:.2f}")
    row("same top article", lambda r: f"{r['search']['same_top']}/{r['search']['questions']}")
    row("same top 3, in order", lambda r: f"{r['search']['same_top3']}/{r['search']['questions']}")
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="Working folder (kept; reused by the next run).")
    parser.add_argument("--articles", type=int, default=10_000, help="Synthetic KB size; 0: the starter KB alone.")
    parser.add_argument("--questions", type=int, default=60, help="Starter questions asked of both searches.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-remote-") as tmp:
        work = args.work.resolve() if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        asked = questions(args.questions)
        sizes = [0, args.articles] if args.articles else [0]
        rows = []
        for size in sizes:
            settings, tokens = prepare(work, size)
            rows.append(measure(f"{size} synthetic" if size else "starter", work, settings, tokens, asked))
        report(rows)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
