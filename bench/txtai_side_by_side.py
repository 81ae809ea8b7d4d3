"""kb beside txtai, the library a user would pick instead for this job, in one run on the same machine.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/txtai_side_by_side.py [--clients 8] [--seconds 20]

The same chunks (the starter KB's, as kb's indexer cut them), the same model (the bundled all-MiniLM-L6-v2, from
its folder), hybrid on both sides (txtai's `hybrid: true`: its dense + BM25 fusion). txtai runs its own API
(`txtai.api:app`) under uvicorn, from its own virtual environment (`.cache/bench-txtai`, made on first use with
`torch==2.13.0` and `txtai[api]==9.14.0`: it needs no package of kb's, nor kb any of its). kb runs `kb serve` with
its defaults, and once more English-only (`KB_MULTILINGUAL=false`: the very same model and nothing else).

Figures: p50/p95 with one client, the servers interleaved query by query; queries per second with `--clients`
concurrent clients, each server in turn, twice (the order reversed the second time; the better run counts); and
nDCG@10 of each on the starter questions (`bench/questions/starter`, all splits) through those chunks: txtai's
chunk hits become their articles in rank order (first hit of an article counts), kb's results are articles already.
txtai returns ids and scores; kb also groups, cuts the answering passage and decides whether it answers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.http_load import Connection, Target, interleaved, throughput_runs  # noqa: E402
from bench.server import KB_SERVE, running_server, server_environment  # noqa: E402
from bench.serving_speed import read_queries, search_path  # noqa: E402

TXTAI_VENV = REPO / ".cache" / "bench-txtai"
TXTAI = "txtai[api]==9.14.0"
STARTER = REPO / "bench" / "questions" / "starter"
console = Console(width=200, highlight=False, markup=False)

BUILD_TXTAI = """
import json, sys
from txtai import Embeddings
model, chunks, out = sys.argv[1:4]
rows = [json.loads(line) for line in open(chunks, encoding="utf-8") if line.strip()]
embeddings = Embeddings(path=model, hybrid=True, content=False)
embeddings.index([(f"{row['doc_id']}#{number}", row["text"], None) for number, row in enumerate(rows)])
embeddings.save(out)
"""


def txtai_python() -> Path:
    python = TXTAI_VENV / "bin" / "python"
    if not python.is_file():
        console.print(f"making txtai's environment in {TXTAI_VENV} (once): torch==2.13.0, then {TXTAI}")
        subprocess.run(["python3.11", "-m", "venv", str(TXTAI_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "torch==2.13.0"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", TXTAI], check=True)
    return python


def kb_chunks(work: Path, articles: Path) -> Path:
    """The chunks of kb's index of `articles` (built with kb's defaults), as JSON lines of doc_id and text."""
    from indexer.chunking import Chunk
    from indexer.generation import CHUNKS, current_generation
    from kb.service import KnowledgeBase
    from kb.settings import Settings

    settings = Settings(data_dir=work / "chunks-data", articles_dir=articles)
    kb = KnowledgeBase(settings)
    try:
        kb.indexing.build()
    finally:
        kb.close()
    generation = current_generation(settings.index_dir)
    assert generation is not None
    out = work / "chunks.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        for line in (generation / CHUNKS).read_text(encoding="utf-8").splitlines():
            if line.strip():
                chunk = Chunk(**json.loads(line))
                handle.write(json.dumps({"doc_id": chunk.doc_id, "text": chunk.embedding_text}) + "\n")
    return out


def txtai_path(query: str) -> str:
    return f"/search?query={quote(query)}&limit=5"


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    gains = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sum(g / math.log2(rank + 2) for rank, g in enumerate(sorted(relevant.values(), reverse=True)[:10]))
    return gains / ideal if ideal else 0.0


def quality(kb_targets: list[Target], txtai: Target) -> dict[str, float]:
    """nDCG@10 over articles on the starter questions that have a right article."""
    qrels: dict[str, dict[str, int]] = {}
    for line in (STARTER / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query_id, doc, score = line.split("\t")
        qrels.setdefault(query_id, {})[doc] = int(score)
    questions = [json.loads(line) for line in (STARTER / "queries.jsonl").read_text().splitlines() if line.strip()]
    questions = [q for q in questions if q["id"] in qrels]
    scores: dict[str, list[float]] = {t.name: [] for t in [*kb_targets, txtai]}
    for target in kb_targets:
        connection = Connection(target.base)
        for question in questions:
            _, body = connection.get(f"/v1/search?q={quote(question['text'])}&limit=10")
            ranked = [hit["article_id"] for hit in json.loads(body)["results"]]
            scores[target.name].append(ndcg_at_10(ranked, qrels[question["id"]]))
    connection = Connection(txtai.base)
    for question in questions:
        _, body = connection.get(f"/search?query={quote(question['text'])}&limit=60")
        ranked = list(dict.fromkeys(str(hit["id"]).rsplit("#", 1)[0] for hit in json.loads(body)))
        scores[txtai.name].append(ndcg_at_10(ranked, qrels[question["id"]]))
    return {name: sum(values) / len(values) for name, values in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--timed", type=int, default=300)
    args = parser.parse_args()

    from indexer.embedders.sentence_transformer import bundled_model_path

    python = txtai_python()
    queries = read_queries(STARTER / "queries.jsonl")
    with tempfile.TemporaryDirectory(prefix="kb-txtai-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        articles = work / "articles"
        shutil.copytree(REPO / "articles", articles)
        chunks = kb_chunks(work, articles)
        console.print(f"{sum(1 for _ in chunks.open())} chunks; building txtai's index")
        index = work / "txtai-index"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        script = work / "build_txtai.py"
        script.write_text(BUILD_TXTAI, encoding="utf-8")
        subprocess.run(
            [str(python), str(script), str(bundled_model_path()), str(chunks), str(index)], check=True, env=env
        )
        config = work / "txtai.yml"
        # `embeddings` must be named for txtai's API to mount its search route; the saved index's own settings
        # (the same model and hybrid) are what it loads.
        embeddings = f"embeddings:\n  path: {bundled_model_path()}\n  hybrid: true\n  content: false\n"
        config.write_text(f"path: {index}\nwritable: false\n{embeddings}", encoding="utf-8")
        command = [str(python), "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1", "--port", "{port}"]
        txtai_server = stack.enter_context(
            running_server(
                command,
                {**env, "CONFIG": str(config)},
                work / "txtai.log",
                timeout=300,
                ready_path="/search?query=warm",
            )
        )
        targets = [Target("txtai", txtai_server.base, txtai_path)]
        for name, overrides in (("kb", {}), ("kb English-only", {"KB_MULTILINGUAL": "false"})):
            data = work / f"data-{len(targets)}"
            kb_env = server_environment(
                data, articles, {"KB_RATE_LIMIT_PER_MINUTE": "0", **overrides}, inherit_kb=False
            )
            server = stack.enter_context(running_server(KB_SERVE, kb_env, work / f"{name}.log", timeout=600))
            targets.append(Target(name, server.base, search_path))

        console.print(f"load average before: {os.getloadavg()}")
        single = interleaved(targets, queries, args.timed)
        runs, details = throughput_runs(targets, queries, args.clients, args.seconds)
        ndcg = quality(targets[1:], targets[0])
        console.print(f"load average after: {os.getloadavg()}")

    table = Table(title="kb and txtai side by side: the starter KB's chunks, all-MiniLM-L6-v2, hybrid")
    columns = ("server", "1 client p50 ms", "p95", f"{args.clients} clients q/s (runs)", "p50", "statuses", "nDCG@10")
    for column in columns:
        table.add_column(column, justify="right")
    for name, stats in single.items():
        table.add_row(
            name,
            f"{stats.p(50):.2f}",
            f"{stats.p(95):.2f}",
            f"{max(runs[name]):.0f} ({', '.join(f'{r:.0f}' for r in runs[name])})",
            f"{details[name].p50_ms:.1f}",
            str(details[name].statuses),
            f"{ndcg[name]:.4f}",
        )
    console.print(table)
    for name in ("kb", "kb English-only"):
        console.print(
            f"{name} against txtai: q/s {max(runs[name]) / max(runs['txtai']):.2f}x, "
            f"1-client p50 {single['txtai'].p(50) / single[name].p(50):.2f}x lower, "
            f"nDCG@10 {ndcg[name] - ndcg['txtai']:+.4f}"
        )


if __name__ == "__main__":
    main()
