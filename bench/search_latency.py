"""Search latency benchmark: how close the product's search comes to the model + FAISS floor.

For each knowledge base (the starter KB in ./articles and a synthetic help-desk KB of N articles) it
indexes the articles, then measures per-query latency (p50/p95, ms) of:

  (a) the floor: `embedder.encode([q])` + the loaded index's `vectors.search(vec, k)`, in-process;
  (b) `Searcher.search(q, limit=5)` (`kb.indexing.searcher().search`), in-process;
  (e) the same with the English encoder alone (no multilingual encoder, no language weights), over the same
      index: b/e is what the second encoder and language detection cost (target: b/e <= 1.3);
  (b') `kb.search.find(q, 5)`: (b) plus the search-log write the API does, in-process (diagnostic);
  (c) `GET /v1/search?q=...&limit=5` through a real uvicorn server in a subprocess, with one keep-alive
      httpx client sending sequential requests (plus `GET /healthz` on that connection: the HTTP share);

and prints the ratios b/a and c/a (target: c/a <= 1.5). The measurements are interleaved query by query
(a, b, b', c in a rotating order) so that background load hits all of them alike; the
1-minute load average around the timed part is printed too: on a shared 2-core host it sways the absolutes.
With torch's default of one thread per core, a busy host inflates every encode (OpenMP threads wait on
each other); `--threads 1` shows the figures without that effect.
`--foreign` adds a row timed on the starter KB's Portuguese, Polish and French questions, where b/e is what a
question in another language costs over the English-only pipeline.
A missed target is reported, never an error: the exit status is 0 unless something actually broke.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/search_latency.py [--synthetic 10000] [--queries 200] [--foreign]
"""

from __future__ import annotations

import argparse
import json
import os
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

from bench.server import UVICORN_FACTORY, running_server, server_environment  # noqa: E402
from bench.synthetic import QUERIES, generate_synthetic  # noqa: E402
from indexer.embedders import Embedder  # noqa: E402
from kb.evaluation.dataset import load_dataset  # noqa: E402
from kb.indexing import load_embedder  # noqa: E402
from kb.search.searcher import CANDIDATE_DEPTH, Searcher  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

STARTER_ARTICLES = REPO / "articles"
QUESTIONS = REPO / "bench" / "questions"
TARGET_RATIO = 1.5
TARGET_MULTILINGUAL_RATIO = 1.3
FLOOR_K = CANDIDATE_DEPTH  # the floor asks FAISS for the same depth as the Searcher does
LIMIT = 5
SERVER_START_TIMEOUT_S = 300.0

console = Console(width=200, highlight=False, markup=False)
log_console = Console(stderr=True, width=150, highlight=False, markup=False)


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


@contextmanager
def uvicorn_server(settings: Settings, log_path: Path) -> Iterator[tuple[str, float]]:
    """A real `uvicorn --factory` server over `settings`' folders; yields (base URL, seconds to ready)."""
    # Only these settings reach it: one client sends hundreds of requests a minute on purpose, so no rate limit.
    env = server_environment(
        settings.data_dir, settings.articles_dir, {"KB_RATE_LIMIT_PER_MINUTE": "0"}, inherit_kb=False
    )
    with running_server(UVICORN_FACTORY, env, log_path, timeout=SERVER_START_TIMEOUT_S) as server:
        yield server.base, server.ready_seconds


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


def foreign_queries(per_language: int = 20) -> list[str]:
    """The first questions of each of the starter KB's Portuguese, Polish and French sets."""
    return [
        query.text
        for language in ("pt", "pl", "fr")
        for query in load_dataset(
            QUESTIONS / f"starter_{language}", per_language, articles_dir=STARTER_ARTICLES
        ).queries
    ]


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
        report = kb.indexing.build(progress=progress)
        result.index_s = time.perf_counter() - started
        result.embed_s = progress.embed_seconds
        result.articles, result.chunks = report.articles, report.build.chunks
        if report.problems:
            result.errors.append(f"{len(report.problems)} article problem(s), first: {report.problems[0]}")
        log_console.print(
            f"[{name}] indexed {result.articles} articles / {result.chunks} chunks in {result.index_s:.1f}s "
            f"(embedded {len(report.build.embedded)}, reused {len(report.build.reused)})"
        )

        searcher = kb.indexing.searcher()
        index = searcher.index

        def floor(query: str) -> object:
            vector = embedder.encode([query])[0]
            return index.nearest(vector, FLOOR_K)  # FAISS alone: the generation's dense index, no filter

        def searcher_search(query: str) -> object:
            return kb.indexing.searcher().search(query, limit=LIMIT)

        def kb_search(query: str) -> object:
            return kb.search.find(query, LIMIT)

        english_only = Searcher(
            index,
            embedder,
            kb.teams.directory,
            answer_threshold=settings.answer_threshold,
            default_team=settings.default_team,
        )

        def english_search(query: str) -> object:
            return english_only.search(query, limit=LIMIT)

        measures: dict[str, Callable[[str], object]] = {
            "a": floor,
            "b": searcher_search,
            "b_log": kb_search,
            "e": english_search,
        }
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
        "e English-only p50",
        "b/e ≤ 1.3",
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
            _ms(s.get("e", Stats()).p50),
            _ratio(r.ratio("b", "e")),
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
            "ratio_b_over_english_only": _round(r.ratio("b", "e")),
            "target_multilingual_met": None
            if r.ratio("b", "e") != r.ratio("b", "e")
            else r.ratio("b", "e") <= TARGET_MULTILINGUAL_RATIO,
            "target_met": None if c_over_a != c_over_a else c_over_a <= TARGET_RATIO,
            "errors": r.errors,
        }
    console.print(table)
    console.print(
        f"a = embedder.encode([q]) + vectors.search(vec, {FLOOR_K}) · b = kb.indexing.searcher().search(q, limit=5) · "
        "b' = kb.search.find(q, 5) (b + search-log row) · e = b with the English encoder alone · "
        "c = GET /v1/search via uvicorn + httpx keep-alive · "
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
        "--foreign",
        action="store_true",
        help="also time the starter KB on employees' Portuguese, Polish and French questions (bench/questions)",
    )
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
        # The encoder KB_ENCODER configures, as the served process loads it: an index built by another one is
        # refused by the server (a torch-built index under the default ONNX encoder never turns ready).
        starter = Settings(data_dir=work / "starter-data", articles_dir=STARTER_ARTICLES)
        embedder = load_embedder(starter)
        log_console.print(f"model {embedder.name} loaded in {time.perf_counter() - started:.1f}s")
        threads = _threads()
        log_console.print(f"threads: torch {threads[0]}, faiss {threads[1]}; cpus: {os.cpu_count()}")

        if not args.no_starter:
            results.append(bench_kb("starter", starter, embedder, QUERIES, timed))
        if args.foreign:
            # b/e there is what a foreign question costs over the English-only pipeline on the same text: language
            # detection, the multilingual encoder and the translated keywords.
            results.append(bench_kb("starter, pt/pl/fr questions", starter, embedder, foreign_queries(), timed))
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
