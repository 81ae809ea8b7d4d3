"""Indexing throughput and the index at scale.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/index_scale.py [--articles 10000] [--vectors 1000000] [--skip-baseline]
        [--work DIR [--scale-only | --indexing-only]]

1. Indexing: `kb index --rebuild` of the synthetic help-desk KB of `--articles` articles (bench/synthetic.py, seed
   20261126), by this code and by the code before the speed work (BASELINE, a `git archive`), one after the other,
   each in its own process and data folder: seconds and chunks per second, with the ratio; then this code once more
   with KB_ENCODER=openvino (documents in bfloat16, where the CPU has it). Beside it, the raw
   throughput of the encoders on the same chunk texts in this process (English model per backend, the
   multilingual encoder), so that the pipeline's rate reads against what the encoders alone could do.
2. Vectors at scale: `--vectors` synthetic chunk vectors, made from the real ones of that index: each is a real
   chunk vector, plus another real one weighted by a uniform draw in [0, 1), plus Gaussian noise of 0.35 per unit
   dimension scale, normalised. The blend spreads the rows over the space the real chunks span instead of heaping
   them into tight clusters of noisy copies of 30,000 vectors (which no KB has: in such a heap the exact top 10 is a
   tie among a few dozen copies, and recall measures the tie-break); no two rows are equal. Indexed as the indexer
   does past KB_EXACT_INDEX_MAX_CHUNKS (HNSW, M=32, efConstruction=80): build seconds, memory (the index's bytes),
   search p50/p95 at efSearch 128/256/512 (256 is the default), recall@10 against the exact index over the same
   vectors, and with an audience filter allowing 50 % and 0.1 % of rows.
3. Keywords at scale: the BM25 term-frequency matrix of the same number of rows (the real chunks' rows, sampled
   with replacement), its bytes, and the time of a query's scores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from scipy import sparse  # noqa: E402

from bench.server import server_environment  # noqa: E402
from bench.serving_speed import BASELINE, checkout, every_backend, read_queries  # noqa: E402  (sets KB_MODEL_CACHE_DIR)
from bench.synthetic import generate_synthetic  # noqa: E402

console = Console(width=200, highlight=False, markup=False)
NOISE = 0.35


def index_with(code: Path, data: Path, articles: Path, log: Path, settings: dict[str, str] | None = None) -> float:
    """Seconds of `kb index --rebuild` by the code in `code`, in its own process, with `settings` (KB_*) on top."""
    env = server_environment(data, articles, settings or {}, code=code, inherit_kb=False)
    started = time.perf_counter()
    with log.open("w") as out:
        command = [sys.executable, "-m", "kb.cli.main", "index", "--rebuild"]
        subprocess.run(command, cwd=code, env=env, stdout=out, stderr=out, check=True)
    return time.perf_counter() - started


def raw_encoders(texts: list[str], work: Path) -> dict[str, float]:
    """Chunks per second of each encoder alone on `texts` (bulk encode, as the indexer calls it)."""
    rates: dict[str, float] = {}
    sample = texts[:3000]
    for name, load in every_backend(work).items():
        encoder = load()
        started = time.perf_counter()
        encoder.encode(sample)
        rates[name] = len(sample) / (time.perf_counter() - started)
    return rates


def vectors_at_scale(real: np.ndarray, queries: np.ndarray, rows: int) -> None:
    from indexer.vector_index import FaissVectorIndex, RowFilter, VectorOptions

    rng = np.random.default_rng(20261202)
    dimension = real.shape[1]
    vectors = np.empty((rows, dimension), dtype=np.float32)
    step = 100_000
    for start in range(0, rows, step):  # in slices: the noise for 1M x 384 at once would double the peak memory
        end = min(rows, start + step)
        block = real[rng.integers(0, len(real), end - start)]
        block = block + rng.random((end - start, 1), dtype=np.float32) * real[rng.integers(0, len(real), end - start)]
        block = block + rng.standard_normal(block.shape, dtype=np.float32) * (NOISE / np.sqrt(dimension))
        vectors[start:end] = block / np.linalg.norm(block, axis=1, keepdims=True)
    console.print(f"{rows} synthetic vectors from {len(real)} real ones; building HNSW ...")
    started = time.perf_counter()
    approximate = FaissVectorIndex.build(vectors, dimension, VectorOptions(exact_max_rows=100_000))
    build_s = time.perf_counter() - started
    exact = FaissVectorIndex.build(vectors, dimension, VectorOptions(exact_max_rows=rows))
    with tempfile.TemporaryDirectory() as tmp:
        approximate.save(Path(tmp) / "v.faiss")
        index_bytes = (Path(tmp) / "v.faiss").stat().st_size
    console.print(
        f"HNSW build {build_s:.1f} s; index {index_bytes / 2**20:.0f} MiB "
        f"(the vectors alone {vectors.nbytes / 2**20:.0f} MiB)"
    )

    half = rng.random(rows) < 0.5
    tiny = rng.random(rows) < 0.001
    table = Table(title=f"vector search over {rows} chunks (k=10)")
    for column in ("filter", "efSearch", "p50 ms", "p95 ms", "recall@10", "exact p50 ms"):
        table.add_column(column, justify="right")
    for label, mask in (("none", None), ("50 %", half), ("0.1 %", tiny)):
        allowed = None if mask is None else RowFilter(mask)
        truth, exact_ms = [], []
        for query in queries:
            began = time.perf_counter()
            truth.append(set(exact.search(query, 10, allowed)[1].tolist()))
            exact_ms.append((time.perf_counter() - began) * 1000)
        for ef in (128, 256, 512):
            index = FaissVectorIndex(approximate._index, ef)  # the same graph, another breadth
            times, recall = [], []
            for query, expected in zip(queries, truth, strict=True):
                began = time.perf_counter()
                found = index.search(query, 10, allowed)[1]
                times.append((time.perf_counter() - began) * 1000)
                recall.append(len(expected & set(found.tolist())) / max(1, len(expected)))
            table.add_row(
                label,
                str(ef),
                f"{np.percentile(times, 50):.2f}",
                f"{np.percentile(times, 95):.2f}",
                f"{np.mean(recall):.4f}",
                f"{np.percentile(exact_ms, 50):.1f}",
            )
    console.print(table)


def keywords_at_scale(generation: Path, query_texts: list[str], rows: int) -> None:
    from indexer.generation import KEYWORDS
    from indexer.keyword_index import Bm25KeywordIndex

    real = Bm25KeywordIndex.load(generation / KEYWORDS)
    matrix = sparse.csr_array(real._tf)
    rng = np.random.default_rng(7)
    big = sparse.csc_array(matrix[rng.integers(0, matrix.shape[0], rows)])
    index = Bm25KeywordIndex(big, real._vocab, real._k1, real._b)
    nbytes = big.data.nbytes + big.indices.nbytes + big.indptr.nbytes
    times = []
    for text in query_texts * 2:
        index._term_postings.clear()  # every query cold: no term's postings cached
        began = time.perf_counter()
        index.scores(text)
        times.append((time.perf_counter() - began) * 1000)
    console.print(
        f"BM25 over {rows} chunks: {big.nnz} stored frequencies ({big.data.dtype}, indices {big.indices.dtype}), "
        f"{nbytes / 2**20:.0f} MiB; a query's scores (cold) p50 {np.percentile(times, 50):.1f} ms, "
        f"p95 {np.percentile(times, 95):.1f} ms"
    )


def index_and_compare(args: argparse.Namespace, work: Path) -> None:
    """`kb index --rebuild` of the synthetic KB by this code and the baseline, then the encoders alone on its texts."""
    from indexer.chunking import Chunk
    from indexer.generation import CHUNKS, current_generation
    from kb.settings import Settings

    articles = work / "articles"
    generate_synthetic(articles, args.articles)
    now_data = work / "data-now"
    console.print(f"indexing {args.articles} articles with this code ...")
    now_s = index_with(REPO, now_data, articles, work / "index-now.log")
    generation = current_generation(Settings(data_dir=now_data).index_dir)
    assert generation is not None
    chunk_texts = [
        Chunk(**json.loads(line)).embedding_text
        for line in (generation / CHUNKS).read_text(encoding="utf-8").splitlines()
        if line
    ]
    chunks = len(chunk_texts)
    table = Table(title=f"kb index --rebuild, {args.articles} synthetic articles, {chunks} chunks, both encoders")
    for column in ("code", "seconds", "chunks/s", "x baseline"):
        table.add_column(column, justify="right")
    base_s = None
    if not args.skip_baseline:
        with checkout(args.baseline) as code:
            console.print(f"indexing with the baseline {args.baseline} ...")
            base_s = index_with(code, work / "data-baseline", articles, work / "index-baseline.log")
        table.add_row(f"baseline {args.baseline}", f"{base_s:.1f}", f"{chunks / base_s:.0f}", "1.00")
    table.add_row("now", f"{now_s:.1f}", f"{chunks / now_s:.0f}", f"{base_s / now_s:.2f}" if base_s else "-")
    console.print(f"indexing {args.articles} articles with this code, KB_ENCODER=openvino ...")
    ov_data, ov_log = work / "data-openvino", work / "index-openvino.log"
    ov_s = index_with(REPO, ov_data, articles, ov_log, {"KB_ENCODER": "openvino"})
    table.add_row("now, openvino", f"{ov_s:.1f}", f"{chunks / ov_s:.0f}", f"{base_s / ov_s:.2f}" if base_s else "-")
    console.print(table)
    rates = raw_encoders(chunk_texts, work)
    console.print(
        "encoders alone on the same texts (chunks/s): "
        + ", ".join(f"{name} {rate:.0f}" for name, rate in rates.items())
        + f"; the default pipeline's two encoders (onnx) one after the other: "
        f"{1 / (1 / rates['onnx'] + 1 / rates['USE onnx']):.0f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--skip-baseline", action="store_true", help="index with this code only")
    parser.add_argument("--work", type=Path, help="keep the articles and data folders here")
    parser.add_argument(
        "--scale-only", action="store_true", help="skip the indexing (reuse the index of an earlier run in --work)"
    )
    parser.add_argument("--indexing-only", action="store_true", help="stop after the indexing and the encoders")
    args = parser.parse_args()

    from indexer.generation import VECTORS, current_generation
    from indexer.vector_index import FaissVectorIndex
    from kb.indexing import load_embedder
    from kb.settings import Settings

    if args.scale_only and args.work is None:
        parser.error("--scale-only reuses the index of an earlier run: give its --work folder")
    with tempfile.TemporaryDirectory(prefix="kb-scale-") as tmp:
        work = args.work or Path(tmp)
        if not args.scale_only:
            index_and_compare(args, work)
        if args.indexing_only:
            return
        generation = current_generation(Settings(data_dir=work / "data-now").index_dir)
        if generation is None:
            parser.error(f"no index in {work / 'data-now'}: run without --scale-only first")
        stored = FaissVectorIndex.load(generation / VECTORS)
        real = stored.vectors(np.arange(stored.size))
        query_texts = read_queries(REPO / "bench" / "questions" / "starter" / "queries.jsonl")[:100]
        embedder = load_embedder(Settings(data_dir=work))
        queries = embedder.encode(query_texts)
        vectors_at_scale(real, queries, args.vectors)
        keywords_at_scale(generation, query_texts, args.vectors)


if __name__ == "__main__":
    main()
