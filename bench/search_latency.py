"""Search latency benchmark: how close the product's search comes to the model + FAISS floor.

For each knowledge base (the starter KB in ./articles and a synthetic help-desk KB of N articles) it
indexes the articles, then measures per-query latency (p50/p95, ms) of:

  (a) the floor: `embedder.encode([q])` + the loaded index's `vectors.search(vec, k)`, in-process;
  (b) `Searcher.search(q, limit=5)` (`kb.searcher().search`), in-process;
  (b') `KnowledgeBase.search(q, 5)`: (b) plus the search-log write the API does, in-process (diagnostic);
  (c) `GET /v1/search?q=...&limit=5` through a real uvicorn server in a subprocess, with one keep-alive
      httpx client sending sequential requests (plus `GET /healthz` on that connection: the HTTP share);

and prints the ratios b/a and c/a (target: c/a <= 1.5). The measurements are interleaved query by query
(a, b, b', c in a rotating order) so that background load hits all of them alike; the
1-minute load average around the timed part is printed too: on a shared 2-core host it sways the absolutes.
With torch's default of one thread per core, a busy host inflates every encode (OpenMP threads wait on
each other); `--threads 1` shows the figures without that effect.
A missed target is reported, never an error: the exit status is 0 unless something actually broke.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/search_latency.py [--synthetic 10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python bench/search_latency.py` from anywhere
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from indexer.embedders import Embedder  # noqa: E402
from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder  # noqa: E402
from kb.search.searcher import CANDIDATE_DEPTH  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

STARTER_ARTICLES = REPO / "articles"
TARGET_RATIO = 1.5
FLOOR_K = CANDIDATE_DEPTH  # the floor asks FAISS for the same depth as the Searcher does
LIMIT = 5
SERVER_START_TIMEOUT_S = 300.0

console = Console(width=200, highlight=False, markup=False)
log_console = Console(stderr=True, width=150, highlight=False, markup=False)


# --- Queries ------------------------------------------------------------------------------------------

BRIEF_QUERIES = [
    "my vpn keeps dropping every few minutes when I'm on hotel wifi",
    "I forgot my password and now my account is locked",
    "the printer on my floor says it is offline",
    "my badge doesn't open the office door anymore",
    "how do I get reimbursed for a taxi I paid myself",
    "I need to take a few days off next month, how do I ask",
]

PARAPHRASES = [
    # IT
    "vpn disconnects all the time at the airport",
    "globalprotect won't connect from home",
    "locked out of my account after too many login attempts",
    "how do I reset my windows password",
    "mfa push notification never arrives on my phone",
    "I got a new phone and need to move my authenticator",
    "laptop is super slow and the fan is loud",
    "my laptop won't turn on at all",
    "outlook says my mailbox is full and I can't send email",
    "can't access the shared team mailbox calendar",
    "I need admin rights to install software",
    "how do I request a new software licence",
    "printer has a paper jam and says toner low",
    "second monitor not detected through the docking station",
    "I think I received a phishing email, what should I do",
    "office wifi asks for a certificate and won't connect",
    "how can a visitor get on the guest wifi",
    # HR
    "where can I download my payslip",
    "my payslip shows the wrong salary this month",
    "how do I report that I'm sick today",
    "how much parental leave can I take",
    "I need a letter confirming my employment for the bank",
    "how do I enrol in the health insurance plan",
    "where do I find my annual tax statement",
    "what should I bring on my first day",
    "can I work from home three days a week",
    "I changed banks, how do I update my account for salary",
    # Facilities
    "I lost my access card",
    "how do I book a desk for tomorrow",
    "the meeting room screen doesn't work",
    "it is freezing in the office, heating is off",
    "my office chair is broken",
    "how do I get a parking permit",
    "where can I get a locker",
    "a visitor is coming tomorrow, how do I register them",
    # Finance
    "my expense report was rejected",
    "I lost my corporate credit card",
    "how much is the daily allowance on business trips",
    "I paid a hotel in dollars, how do I claim it",
    "what approvals does a purchase order need",
    "our supplier says their invoice was paid late",
    "how do I book a flight for a business trip",
]

NONSENSE = [
    "purple elephants dancing on the moon",
    "asdf qwerty zxcv",
    "banana",
    "what is the airspeed velocity of an unladen swallow",
    "recipe for lasagna with extra cheese",
    "xk7 zzq vvv 0042",
]

QUERIES = BRIEF_QUERIES + PARAPHRASES + NONSENSE


# --- Synthetic knowledge base ------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    team: str
    subjects: list[str]
    systems: list[str]
    symptoms: list[str]
    contexts: list[str]
    causes: list[str]
    steps: list[str]
    evidence: list[str]


DOMAINS = [
    Domain(
        team="IT",
        subjects=[
            "VPN",
            "Outlook",
            "Teams",
            "OneDrive",
            "SharePoint",
            "the laptop",
            "the docking station",
            "the floor printer",
            "office Wi-Fi",
            "MFA sign-in",
            "the shared mailbox",
            "BitLocker",
            "the browser",
            "Zoom",
            "the company phone",
            "the external monitor",
        ],
        systems=["GlobalProtect", "Okta", "Intune", "Windows 11", "macOS", "Company Portal", "Jira", "SAP GUI"],
        symptoms=[
            "disconnects every few minutes",
            "keeps asking for the password",
            "is extremely slow",
            "crashes right after start-up",
            "shows error {code}",
            "cannot connect at all",
            "stops syncing",
            "freezes during video calls",
            "says it is offline",
            "locks the account after one attempt",
        ],
        contexts=[
            "on hotel Wi-Fi",
            "after the latest update",
            "when working from home",
            "on the 4th floor",
            "after a password change",
            "when the laptop wakes from sleep",
            "on the guest network",
            "since the new phone was set up",
        ],
        causes=[
            "The cached credentials expired and the client keeps retrying the old ones.",
            "A pending update left the client half installed.",
            "The device certificate is out of date, so the network refuses the connection.",
            "A captive portal blocks traffic until you sign in again.",
            "The local cache is corrupt after an interrupted sync.",
            "Power saving turns the network adapter off while the lid is closed.",
            "The driver does not match the current Windows build.",
            "Too many failed sign-ins triggered the lockout policy.",
        ],
        steps=[
            "Restart {system} and sign in again.",
            "Install pending updates from Company Portal and reboot.",
            "Clear the local cache in {system} settings.",
            "Unlock your account at the self-service password page.",
            "Forget the network and reconnect with your company credentials.",
            "Unplug the dock for ten seconds and plug it back in.",
            "Re-register your phone in the authenticator app.",
            "Switch the connection mode to SSL in the troubleshooting tab.",
            "Run the network troubleshooter and note the error shown.",
        ],
        evidence=["the error code", "the time it happened", "your laptop's asset tag", "a screenshot"],
    ),
    Domain(
        team="HR",
        subjects=[
            "the annual leave request",
            "the payslip",
            "sick leave reporting",
            "the parental leave form",
            "benefits enrolment",
            "the pension contribution",
            "the employment certificate",
            "the overtime claim",
            "the training budget request",
            "the contract change",
            "the home office allowance",
            "the probation review",
        ],
        systems=["Workday", "the HR portal", "SuccessFactors", "Personio", "the payroll portal"],
        symptoms=[
            "is stuck waiting for approval",
            "shows the wrong amount",
            "was rejected without a reason",
            "is missing from {system}",
            "cannot be submitted",
            "shows the wrong number of days",
            "still shows the old manager",
            "was approved but not paid",
        ],
        contexts=[
            "this month",
            "after moving to a new team",
            "for part-time staff",
            "since the start of the year",
            "after returning from leave",
            "for the Warsaw office",
        ],
        causes=[
            "The approver changed and the request is still assigned to the previous manager.",
            "Payroll closes on the 20th, so later changes land in next month's run.",
            "The contract data in {system} was not updated after the change.",
            "A required document was not attached to the request.",
            "The leave balance is recalculated only overnight.",
            "Your cost centre is missing from the employee record.",
        ],
        steps=[
            "Open {system} and check the request history.",
            "Ask your manager to approve the pending item.",
            "Attach the signed form and submit again.",
            "Wait for the overnight recalculation and check the balance tomorrow.",
            "Download the latest statement from {system}.",
            "Update your personal details under My Profile.",
            "Book a slot with your HR partner for a review.",
        ],
        evidence=["your employee number", "the request reference", "the pay period", "the dates concerned"],
    ),
    Domain(
        team="Facilities",
        subjects=[
            "the access badge",
            "the office door",
            "the meeting room display",
            "desk booking",
            "the parking barrier",
            "the locker",
            "the heating",
            "the air conditioning",
            "the lift",
            "the kitchen coffee machine",
            "the window blinds",
            "the ceiling lights",
            "the desk chair",
            "visitor registration",
        ],
        systems=["DeskBook", "the building app", "the reception kiosk", "the access control system"],
        symptoms=[
            "does not work anymore",
            "is stuck",
            "beeps red and stays locked",
            "does not show today's bookings",
            "is far too cold",
            "makes a loud noise",
            "is out of order",
            "rejects my booking",
        ],
        contexts=[
            "in Building A",
            "on the 2nd floor",
            "in the Lisbon office",
            "in the Paris office",
            "in the Warsaw office",
            "at the main entrance",
            "in the basement garage",
            "after 18:00",
        ],
        causes=[
            "Badge permissions expire when a contract is extended and must be renewed.",
            "The controller lost its network link and works offline.",
            "The booking was made for another site in {system}.",
            "The thermostat schedule was reset after maintenance.",
            "The device is waiting for a scheduled repair.",
            "Weekend mode is still active in the building management system.",
        ],
        steps=[
            "Check your booking in {system}.",
            "Hold the badge flat against the reader for two seconds.",
            "Ask reception for a temporary badge.",
            "Report the fault in {system} with the room number.",
            "Use the desk or room listed as an alternative.",
            "Call the security desk if you are locked out after hours.",
            "Wait ten minutes after the reset before trying again.",
        ],
        evidence=["the room or door number", "your badge number", "a photo of the fault", "the time it happened"],
    ),
    Domain(
        team="Finance",
        subjects=[
            "the expense report",
            "the taxi receipt",
            "the corporate card",
            "the per diem claim",
            "the purchase order",
            "the supplier invoice",
            "the mileage claim",
            "the hotel invoice",
            "the flight booking",
            "the foreign currency expense",
            "the reimbursement",
        ],
        systems=["Concur", "Coupa", "SAP", "Navan", "the expense app"],
        symptoms=[
            "was rejected",
            "is still not reimbursed",
            "shows the wrong currency",
            "is blocked waiting for approval",
            "was paid late",
            "was declined",
            "cannot be submitted in {system}",
            "is missing a cost centre",
        ],
        contexts=[
            "after a business trip",
            "for a client dinner",
            "paid with my own money",
            "in US dollars",
            "over the approval threshold",
            "at month end",
        ],
        causes=[
            "The receipt is missing or unreadable.",
            "The amount is above your approval limit and needs a second approver.",
            "The exchange rate was taken from the card statement instead of the receipt date.",
            "The cost centre on the claim is closed.",
            "Invoices are paid in the weekly run on Thursdays only.",
            "The card was blocked after a suspicious transaction.",
        ],
        steps=[
            "Photograph the receipt and attach it in {system}.",
            "Choose the correct cost centre and resubmit.",
            "Ask your manager to approve the claim.",
            "Freeze the card in {system} and order a replacement.",
            "Enter the amount in the original currency with the receipt date.",
            "Wait for the next payment run and check the status.",
            "Split the purchase into a purchase order first.",
        ],
        evidence=["the claim number", "the receipt", "the invoice number", "the card's last four digits"],
    ),
]


def _fill(template: str, rng: random.Random, domain: Domain) -> str:
    return template.format(system=rng.choice(domain.systems), code=f"0x{rng.randrange(0x1000, 0xFFFF):04X}")


def synthetic_article(number: int, rng: random.Random) -> tuple[str, str]:
    """(file name, Markdown text) of one short help-desk article, ~60-100 words, 3 sections."""
    domain = DOMAINS[number % len(DOMAINS)]
    subject = rng.choice(domain.subjects)
    symptom = _fill(rng.choice(domain.symptoms), rng, domain)
    context = rng.choice(domain.contexts)
    other_symptom = _fill(rng.choice([s for s in domain.symptoms if s != symptom]), rng, domain)
    causes = rng.sample(domain.causes, 2)
    steps = [_fill(step, rng, domain) for step in rng.sample(domain.steps, 3)]
    system = rng.choice(domain.systems)
    title = f"{subject[0].upper()}{subject[1:]} {symptom} {context}"
    article_id = f"{domain.team.lower()}-{number:05d}"
    lines = [
        "---",
        f"id: {article_id}",
        f"title: {json.dumps(title)}",
        f"team: {domain.team}",
        "status: published",
        "language: en",
        "---",
        "",
        "## Symptoms",
        f"- {subject[0].upper()}{subject[1:]} {symptom} {context}.",
        f"- Sometimes it also {other_symptom} in {system}.",
        "",
        "## Cause",
        " ".join(_fill(c, rng, domain) for c in causes),
        "",
        "## Resolution",
        *(f"{i}. {step}" for i, step in enumerate(steps, start=1)),
        f"{len(steps) + 1}. If it still fails, open a ticket with {domain.team} and include "
        f"{rng.choice(domain.evidence)}.",
        "",
    ]
    return f"{article_id}.md", "\n".join(lines)


def generate_synthetic(folder: Path, count: int, seed: int = 20261126) -> None:
    """Write `count` articles plus the starter teams.yaml; deterministic, so a reused folder re-indexes nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    wanted: set[str] = set()
    for number in range(count):
        name, text = synthetic_article(number, rng)
        wanted.add(name)
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for stale in folder.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    shutil.copy(STARTER_ARTICLES / "teams.yaml", folder / "teams.yaml")


# --- Measurement -------------------------------------------------------------------------------------


class LogProgress:
    """The indexer's Progress protocol, printing a line to stderr every ~10% and timing the embedding."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.total = 0
        self.done = 0
        self.started = 0.0
        self.finished = 0.0
        self._next_report = 0.0

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = self.finished = time.perf_counter()
        self._next_report = 0.1
        log_console.print(f"[{self.label}] embedding {total} chunks")

    def advance(self, count: int) -> None:
        self.done += count
        self.finished = time.perf_counter()
        if self.total and self.done / self.total >= self._next_report:
            rate = self.done / max(self.finished - self.started, 1e-9)
            log_console.print(f"[{self.label}]   {self.done}/{self.total} chunks ({rate:.0f}/s)")
            while self._next_report <= self.done / self.total:
                self._next_report += 0.1

    @property
    def embed_seconds(self) -> float:
        return self.finished - self.started


@dataclass
class Stats:
    samples_ms: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q)) if self.samples_ms else float("nan")

    @property
    def p50(self) -> float:
        return self.p(50)

    @property
    def p95(self) -> float:
        return self.p(95)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "mean_ms": round(float(np.mean(self.samples_ms)), 3) if self.samples_ms else float("nan"),
            "n": len(self.samples_ms),
        }


@dataclass
class KbResult:
    name: str
    articles: int = 0
    chunks: int = 0
    generate_s: float | None = None
    index_s: float = 0.0
    embed_s: float = 0.0
    server_start_s: float = 0.0
    load_avg: tuple[float, float] = (float("nan"), float("nan"))
    stats: dict[str, Stats] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def ratio(self, over: str, under: str = "a") -> float:
        top, bottom = self.stats.get(over), self.stats.get(under)
        if top is None or bottom is None or not top.samples_ms or not bottom.samples_ms:
            return float("nan")
        return top.p50 / bottom.p50


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def uvicorn_server(settings: Settings, log_path: Path) -> Iterator[tuple[str, float]]:
    """A real `uvicorn --factory` server over `settings`' folders; yields (base URL, seconds to ready)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        KB_DATA_DIR=str(settings.data_dir),
        KB_ARTICLES_DIR=str(settings.articles_dir),
        # One client sends hundreds of requests a minute on purpose: the rate limit would answer 429.
        KB_RATE_LIMIT_PER_MINUTE="0",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:app_from_environment",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = started + SERVER_START_TIMEOUT_S
            with httpx.Client(base_url=base, timeout=5.0) as probe:
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{_tail(log_path)}")
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"uvicorn not ready after {SERVER_START_TIMEOUT_S:.0f}s:\n{_tail(log_path)}")
                    try:
                        if probe.get("/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.2)
            yield base, time.perf_counter() - started
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def run_rounds(measures: dict[str, Callable[[str], object]], queries: Sequence[str], timed: int) -> dict[str, Stats]:
    """Warm every measure up on the whole query set, then time >= `timed` queries each.

    The measures are interleaved query by query, in an order rotating from one query to the next: load from
    anything else on the machine (which swings within seconds on a shared host) lands on all of them alike,
    so the ratios stay meaningful even when the absolutes do not.
    """
    for measure in measures.values():
        for query in queries:
            measure(query)
    stats = {name: Stats() for name in measures}
    names = list(measures)
    rounds = -(-timed // len(queries))  # whole rounds, so every query weighs the same (n >= timed)
    turn = 0
    for _ in range(rounds):
        for query in queries:
            turn += 1
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                started = time.perf_counter()
                measures[name](query)
                stats[name].samples_ms.append((time.perf_counter() - started) * 1000)
    return stats


def bench_kb(
    name: str,
    settings: Settings,
    embedder: Embedder,
    queries: Sequence[str],
    timed: int,
    generate_s: float | None = None,
) -> KbResult:
    result = KbResult(name=name, generate_s=generate_s)
    kb = KnowledgeBase(settings, embedder=embedder)
    try:
        progress = LogProgress(name)
        log_console.print(f"[{name}] indexing {settings.articles_dir}")
        started = time.perf_counter()
        report = kb.index(progress=progress)
        result.index_s = time.perf_counter() - started
        result.embed_s = progress.embed_seconds
        result.articles, result.chunks = report.articles, report.build.chunks
        if report.problems:
            result.errors.append(f"{len(report.problems)} article problem(s), first: {report.problems[0]}")
        log_console.print(
            f"[{name}] indexed {result.articles} articles / {result.chunks} chunks in {result.index_s:.1f}s "
            f"(embedded {len(report.build.embedded)}, reused {len(report.build.reused)})"
        )

        searcher = kb.searcher()
        index = searcher.index

        def floor(query: str) -> object:
            vector = embedder.encode([query])[0]
            return index.vectors.search(vector, FLOOR_K)

        def searcher_search(query: str) -> object:
            return kb.searcher().search(query, limit=LIMIT)

        def kb_search(query: str) -> object:
            return kb.search(query, LIMIT)

        measures: dict[str, Callable[[str], object]] = {"a": floor, "b": searcher_search, "b_log": kb_search}
        log_path = settings.data_dir / "uvicorn.log"
        try:
            with uvicorn_server(settings, log_path) as (base, ready_s), httpx.Client(base_url=base, timeout=30) as http:
                result.server_start_s = ready_s
                log_console.print(f"[{name}] uvicorn ready at {base} after {ready_s:.1f}s; measuring")

                def http_search(query: str) -> object:
                    response = http.get("/v1/search", params={"q": query, "limit": LIMIT})
                    if response.status_code != 200:
                        raise RuntimeError(f"GET /v1/search {response.status_code}: {response.text[:300]}")
                    return response

                def http_rtt(query: str) -> object:  # the HTTP + FastAPI + threadpool share of c, no search
                    return http.get("/healthz")

                measures["c"] = http_search
                measures["h"] = http_rtt
                before = os.getloadavg()[0]
                result.stats = run_rounds(measures, queries, timed)
                result.load_avg = (before, os.getloadavg()[0])
        except Exception as exc:  # the in-process figures are still worth printing
            result.errors.append(f"HTTP measurement failed: {exc}")
            log_console.print(f"[{name}] HTTP measurement failed:\n{traceback.format_exc()}")
            measures.pop("c", None)
            measures.pop("h", None)
            result.stats = run_rounds(measures, queries, timed)
    finally:
        kb.close()
    return result


# --- Report ------------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "—" if value != value else f"{value:.1f}"  # NaN check without importing math


def _ratio(value: float) -> str:
    return "—" if value != value else f"{value:.2f}x"


def print_report(results: list[KbResult], timed: int, query_count: int) -> dict[str, Any]:
    setup = Table(title="Indexing", title_justify="left")
    for column in ("KB", "articles", "chunks", "generate s", "index s", "embed s", "chunks/s", "server ready s"):
        setup.add_column(column, justify="left" if column == "KB" else "right", no_wrap=True)
    for r in results:
        setup.add_row(
            r.name,
            str(r.articles),
            str(r.chunks),
            "—" if r.generate_s is None else f"{r.generate_s:.1f}",
            f"{r.index_s:.1f}",
            f"{r.embed_s:.1f}",
            f"{r.chunks / r.index_s:.0f}" if r.index_s else "—",
            f"{r.server_start_s:.1f}" if r.server_start_s else "—",
        )
    console.print(setup)

    table = Table(
        title=f"Search latency, ms ({timed} timed queries per measurement, {query_count} distinct, after warm-up)",
        title_justify="left",
    )
    table.add_column("KB", no_wrap=True)
    for column in (
        "a floor p50",
        "a p95",
        "b Searcher p50",
        "b p95",
        "b' +log p50",
        "b' p95",
        "c HTTP p50",
        "c p95",
        "b/a",
        "c/a",
        "c/b'",
        "c/a ≤ 1.5",
        "/healthz p50",
        "load 1m",
    ):
        table.add_column(column, justify="right")
    figures: dict[str, Any] = {
        "target_c_over_a": TARGET_RATIO,
        "timed_queries": timed,
        "cpus": os.cpu_count(),
        "kbs": {},
    }
    for r in results:
        s = r.stats
        a, b, b_log, c = (s.get(k, Stats()) for k in ("a", "b", "b_log", "c"))
        c_over_a = r.ratio("c")
        met = "—" if c_over_a != c_over_a else ("yes" if c_over_a <= TARGET_RATIO else "NO")
        table.add_row(
            r.name,
            _ms(a.p50),
            _ms(a.p95),
            _ms(b.p50),
            _ms(b.p95),
            _ms(b_log.p50),
            _ms(b_log.p95),
            _ms(c.p50),
            _ms(c.p95),
            _ratio(r.ratio("b")),
            _ratio(c_over_a),
            _ratio(r.ratio("c", "b_log")),
            met,
            _ms(s.get("h", Stats()).p50),
            f"{r.load_avg[0]:.1f}→{r.load_avg[1]:.1f}",
        )
        figures["kbs"][r.name] = {
            "articles": r.articles,
            "chunks": r.chunks,
            "index_s": round(r.index_s, 2),
            "embed_s": round(r.embed_s, 2),
            "chunks_per_s": round(r.chunks / r.index_s, 1) if r.index_s else None,
            "server_ready_s": round(r.server_start_s, 2),
            "load_avg_1m_before_after": [_round(v) for v in r.load_avg],
            **{key: st.as_dict() for key, st in s.items()},
            "ratio_b_over_a": _round(r.ratio("b")),
            "ratio_c_over_a": _round(c_over_a),
            "ratio_c_over_b_log": _round(r.ratio("c", "b_log")),
            "target_met": None if c_over_a != c_over_a else c_over_a <= TARGET_RATIO,
            "errors": r.errors,
        }
    console.print(table)
    console.print(
        f"a = embedder.encode([q]) + vectors.search(vec, {FLOOR_K}) · b = kb.searcher().search(q, limit=5) · "
        "b' = kb.search(q, 5) (b + search-log row) · c = GET /v1/search via uvicorn + httpx keep-alive · "
        "/healthz = GET /healthz on the same connection (HTTP round trip, no search). Ratios use p50."
    )
    for r in results:
        for error in r.errors:
            console.print(f"ERROR {r.name}: {error}", style="bold red")
    return figures


def _round(value: float) -> float | None:
    return None if value != value else round(value, 3)


def _threads() -> tuple[int, int]:
    import faiss
    import torch

    return int(torch.get_num_threads()), int(faiss.omp_get_max_threads())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--synthetic", type=int, default=10_000, metavar="N", help="synthetic KB size (0 skips it; default 10000)"
    )
    parser.add_argument(
        "--queries", type=int, default=200, metavar="N", help="timed queries per measurement (default 200)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch intra-op and FAISS OpenMP threads, in-process and in the server (OMP_NUM_THREADS); "
        "default: the libraries' own (one per core)",
    )
    parser.add_argument("--no-starter", action="store_true", help="skip the starter KB")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep data and synthetic articles here (reused incrementally) instead of a temporary folder",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    timed = max(1, args.queries)
    if args.threads:
        import faiss  # its own OpenMP runtime: torch.set_num_threads does not reach it
        import torch

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # inherited by the uvicorn subprocess
            os.environ[name] = str(args.threads)
    results: list[KbResult] = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        work = args.workdir.resolve() if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log_console.print(f"work folder: {work}")
        started = time.perf_counter()
        embedder = SentenceTransformerEmbedder()
        log_console.print(f"model {embedder.name} loaded in {time.perf_counter() - started:.1f}s")
        threads = _threads()
        log_console.print(f"threads: torch {threads[0]}, faiss {threads[1]}; cpus: {os.cpu_count()}")

        if not args.no_starter:
            settings = Settings(data_dir=work / "starter-data", articles_dir=STARTER_ARTICLES)
            results.append(bench_kb("starter", settings, embedder, QUERIES, timed))
        if args.synthetic > 0:
            folder = work / f"synthetic-{args.synthetic}-articles"
            started = time.perf_counter()
            generate_synthetic(folder, args.synthetic)
            generate_s = time.perf_counter() - started
            log_console.print(f"generated {args.synthetic} synthetic articles in {generate_s:.1f}s into {folder}")
            settings = Settings(data_dir=work / f"synthetic-{args.synthetic}-data", articles_dir=folder)
            results.append(bench_kb(f"synthetic-{args.synthetic}", settings, embedder, QUERIES, timed, generate_s))

    figures = print_report(results, timed, len(QUERIES))
    figures["torch_threads"], figures["faiss_threads"] = threads
    sys.stdout.flush()
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
