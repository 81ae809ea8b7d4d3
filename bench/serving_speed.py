"""Serving speed: query encoding per backend, the in-process floor, and served `/v1/search` with 1 and 8 clients,
against the code before the speed work (a `git archive` of BASELINE), all in one run on the same machine.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/serving_speed.py [--baseline REV] [--clients 8] [--seconds 20]

Figures:
  - encode p50/p95 of one query per backend (torch, onnx, onnx-int8, openvino; for the multilingual encoder numpy,
    onnx, onnx-int8, openvino), each backend in turn on each query (so each meets its weights cold in the cache);
  - the floor (a): the default query encoder's vector + a FAISS search of the loaded index, in-process;
  - served (c) p50/p95 with one client, the servers interleaved query by query (`bench.http_load.interleaved`),
    and c/a;
  - queries per second with `--clients` concurrent clients, each server in turn, twice (the order reversed the
    second time), keeping the better of the two (a neighbour's burst only ever lowers a figure).
Every server serves the bundled starter KB with its own defaults (the baseline's are today's minus this work);
rate limits off. The exit status is 0 unless something broke.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
# The exported encoder graphs, shared by every server of a run and by later runs (the tests use the same folder).
os.environ.setdefault("KB_MODEL_CACHE_DIR", str(REPO / ".cache" / "models"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.http_load import Stats, Target, Throughput, interleaved, throughput_runs  # noqa: E402
from bench.server import KB_SERVE, running_server, server_environment  # noqa: E402
from indexer.embedders import Embedder  # noqa: E402

BASELINE = "7f36587"  # main before issue 23: sentence-transformers on torch, one model thread
LIMIT = 5
console = Console(width=200, highlight=False, markup=False)


def read_queries(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def search_path(query: str) -> str:
    return f"/v1/search?q={quote(query)}&limit={LIMIT}"


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """The tree of `revision` in a temporary folder (no .git: it only serves)."""
    with tempfile.TemporaryDirectory(prefix="kb-baseline-") as folder:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder)


def every_backend(work: Path) -> dict[str, Callable[[], Embedder]]:
    """How to load each encoder on each backend, alone (no query batcher), graphs from KB_MODEL_CACHE_DIR."""
    from indexer.embedders.multilingual import UniversalSentenceEncoder
    from indexer.embedders.multilingual_onnx import OnnxUniversalSentenceEncoder
    from indexer.embedders.onnx_runtime import OnnxEmbedder
    from indexer.embedders.sentence_transformer import SentenceTransformerEmbedder
    from kb.settings import Settings

    cache = Settings(data_dir=work).resolved_model_cache_dir
    return {
        "torch": SentenceTransformerEmbedder,
        "onnx": lambda: OnnxEmbedder(None, cache, backend="onnx"),
        "onnx-int8": lambda: OnnxEmbedder(None, cache, backend="onnx-int8"),
        "openvino": lambda: OnnxEmbedder(None, cache, backend="openvino"),
        "USE numpy": UniversalSentenceEncoder,
        "USE onnx": lambda: OnnxUniversalSentenceEncoder(cache, backend="onnx"),
        "USE onnx-int8": lambda: OnnxUniversalSentenceEncoder(cache, backend="onnx-int8"),
        "USE openvino": lambda: OnnxUniversalSentenceEncoder(cache, backend="openvino"),
    }


def time_encoders(queries: list[str], work: Path) -> dict[str, Stats]:
    """One query at a time through each backend (without the query batcher: the encoder alone)."""
    encoders = {name: load() for name, load in every_backend(work).items()}
    import torch

    torch.set_num_threads(1)  # every backend on one thread, as a loaded server runs them
    stats = {name: Stats() for name in encoders}
    for query in queries:  # warm
        for encoder in encoders.values():
            encoder.encode([query])
    for _ in range(3):
        for query in queries:
            for name, encoder in encoders.items():
                started = time.perf_counter()
                encoder.encode([query])
                stats[name].samples_ms.append((time.perf_counter() - started) * 1000)
    return stats


def floor(queries: list[str], data_dir: Path, articles: Path) -> Stats:
    """(a): the default backend's query vector and the FAISS search of the served index, nothing else."""
    from kb.search.searcher import CANDIDATE_DEPTH
    from kb.service import KnowledgeBase
    from kb.settings import Settings

    kb = KnowledgeBase(Settings(data_dir=data_dir, articles_dir=articles))
    try:
        index = kb.indexing.searcher().index
        # The queries' encoder, not its batcher (nor the documents' encoder when queries have their own).
        inner = getattr(kb.indexing.embedder, "queries", kb.indexing.embedder)
        stats = Stats()
        for round_ in range(4):
            for query in queries:
                started = time.perf_counter()
                index.nearest(inner.encode([query])[0], CANDIDATE_DEPTH)
                if round_:
                    stats.samples_ms.append((time.perf_counter() - started) * 1000)
        return stats
    finally:
        kb.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BASELINE, help="git revision served as the baseline")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each throughput run")
    parser.add_argument("--timed", type=int, default=300, help="timed queries per server with one client")
    parser.add_argument("--torch-server", action="store_true", help="also serve this code with KB_ENCODER=torch")
    parser.add_argument(
        "--fp32-queries-server", action="store_true", help="also serve this code with KB_QUERY_BFLOAT16=false"
    )
    args = parser.parse_args()

    queries = read_queries(REPO / "bench" / "questions" / "starter" / "queries.jsonl")
    with tempfile.TemporaryDirectory(prefix="kb-speed-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        articles = work / "articles"
        shutil.copytree(REPO / "articles", articles)
        console.print(f"load average before: {os.getloadavg()}")
        encode = time_encoders(queries, work)

        baseline_code = stack.enter_context(checkout(args.baseline))
        servers: dict[str, tuple[Path, dict[str, str]]] = {"baseline": (baseline_code, {})}
        if args.torch_server:
            servers["now, torch"] = (REPO, {"KB_ENCODER": "torch"})
        if args.fp32_queries_server:
            servers["now, fp32 queries"] = (REPO, {"KB_QUERY_BFLOAT16": "false"})
        servers["now"] = (REPO, {})
        targets: list[Target] = []
        for name, (code, overrides) in servers.items():
            data = work / f"data-{name.replace(' ', '').replace(',', '-')}"
            env = server_environment(
                data, articles, {"KB_RATE_LIMIT_PER_MINUTE": "0", **overrides}, code=code, inherit_kb=False
            )
            console.print(f"starting {name} ({code}) ...")
            server = stack.enter_context(running_server(KB_SERVE, env, work / f"{name}.log", timeout=600, cwd=code))
            targets.append(Target(name, server.base, search_path))
        a = floor(queries, work / "data-now", articles)

        single = interleaved(targets, queries, args.timed)
        runs, details = throughput_runs(targets, queries, args.clients, args.seconds)
        console.print(f"load average after: {os.getloadavg()}")
    report(encode, a, single, runs, details, args.clients)


def report(
    encode: dict[str, Stats],
    a: Stats,
    single: dict[str, Stats],
    runs: dict[str, list[float]],
    details: dict[str, Throughput],
    clients: int,
) -> None:
    table = Table(title="query encoding, one query, one thread (ms)")
    for column in ("encoder", "p50", "p95", "x reference p50 (torch; USE numpy)"):
        table.add_column(column, justify="right")
    for name, stats in encode.items():
        reference = encode["USE numpy" if name.startswith("USE") else "torch"].p(50)
        table.add_row(name, f"{stats.p(50):.2f}", f"{stats.p(95):.2f}", f"{reference / stats.p(50):.1f}")
    console.print(table)

    table = Table(title=f"served GET /v1/search (starter KB); floor (a) p50 {a.p(50):.2f} ms, p95 {a.p(95):.2f} ms")
    for column in ("server", "1 client p50", "p95", "c/a", f"{clients} clients q/s (runs)", "p50", "p95", "statuses"):
        table.add_column(column, justify="right")
    for name, stats in single.items():
        detail = details[name]
        table.add_row(
            name,
            f"{stats.p(50):.2f}",
            f"{stats.p(95):.2f}",
            f"{stats.p(50) / a.p(50):.2f}",
            f"{max(runs[name]):.0f} ({', '.join(f'{r:.0f}' for r in runs[name])})",
            f"{detail.p50_ms:.1f}",
            f"{detail.p95_ms:.1f}",
            str(detail.statuses),
        )
    console.print(table)
    base, now = single["baseline"], single["now"]
    console.print(
        f"now against baseline: 1-client p50 {base.p(50) / now.p(50):.2f}x faster; "
        f"{clients}-client q/s {max(runs['now']) / max(runs['baseline']):.2f}x"
    )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
