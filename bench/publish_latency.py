"""Publish-to-searchable latency: how long after a reviewer publishes an article in kb employees can find it.

Over a synthetic help-desk KB of N articles (bench/synthetic.py, indexed once into `--work`), with the bundled
English model and the multilingual encoder (the production settings), it times `--publishes` publishes, each of
a new article (drafted by one agent, submitted for review, published by another) that carries a made-up word
found in no other article:

  publish      `kb.publishing.transition(id, "published", reviewer)`: the call itself, which brings the live
               index up to date before it returns (IndexingService.refresh); `refresh` is that share of it;
  searchable   from the start of the publish call until `kb.search.find(<the word>, 5)` on the same
               KnowledgeBase lists the article (polled after the call returns);
  2nd instance the same through a second KnowledgeBase over the same data folder, as a second server process
               sees it: its `searcher()` reloads the live generation when it changed. Its polls are timed on their
               own (the first instance's polls are not counted in it), as if the two were separate processes.

and, as a baseline in the same run, the `kb index` build (`kb.indexing.build()`: read the folder, import it,
index) with nothing changed, and with one article file changed (edited, built, restored, built: two samples).
A publish that re-measures the answer calibration (every KB_RECALIBRATE_AFTER changes) is counted.
With `--profile`, one more publish is run under cProfile (top entries printed, the stats saved in the work folder).

Reusing `--work DIR` keeps the synthetic articles and the 10k index: a later run embeds nothing but the
published articles; those are deleted from the store at the end of a run (and at the start, after a crash).
A figure is never a failure: the exit status is 0 unless something actually broke.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/publish_latency.py --work /tmp/kb-publish [--articles 10000]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python bench/publish_latency.py` from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.synthetic import generate_synthetic, synthetic_article  # noqa: E402
from indexer.generation import read_meta  # noqa: E402
from kb.access import Principal  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

LIMIT = 5
ID_PREFIX = "bench-publish-"
AUTHOR = Principal(name="ivan", role="agent", teams=frozenset({"IT"}), origin="bench")
REVIEWER = Principal(name="olga", role="agent", teams=frozenset({"IT"}), origin="bench")
ADMIN = Principal(name="bench-admin", role="admin", origin="bench")

console = Console(width=200, highlight=False, markup=False)
log_console = Console(stderr=True, width=150, highlight=False, markup=False)


# --- Helpers -----------------------------------------------------------------------------------------


class LogProgress:
    """The indexer's Progress protocol: a line on stderr every ~10% (the first 10k build takes many minutes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.total = self.done = 0
        self.started = 0.0
        self._next = 0.1

    def start(self, total: int) -> None:
        self.total, self.done, self.started, self._next = total, 0, time.perf_counter(), 0.1
        log_console.print(f"[{self.label}] embedding {total} chunk encodings")

    def advance(self, count: int) -> None:
        self.done += count
        if self.total and self.done / self.total >= self._next:
            elapsed = time.perf_counter() - self.started
            rate = self.done / max(elapsed, 1e-9)
            eta = (self.total - self.done) / max(rate, 1e-9)
            log_console.print(
                f"[{self.label}]   {self.done}/{self.total} ({rate:.0f}/s, {elapsed:.0f}s, ~{eta:.0f}s left)"
            )
            while self._next <= self.done / self.total:
                self._next += 0.1


@dataclass
class Stats:
    samples_ms: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q)) if self.samples_ms else float("nan")

    def as_dict(self) -> dict[str, Any]:
        s = self.samples_ms
        return {
            "p50_ms": _round(self.p(50)),
            "p95_ms": _round(self.p(95)),
            "max_ms": _round(max(s)) if s else None,
            "mean_ms": _round(float(np.mean(s))) if s else None,
            "n": len(s),
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or value != value else round(value, digits)


def _ms(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def made_up_words(count: int, rng: random.Random) -> list[str]:
    """Pronounceable nonsense (`zuvokarine`), one per publish, distinct; letters only so no analyser splits it."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(5)) + "x"
        if word not in words:
            words.append(word)
    return words


def draft_markdown(number: int, word: str) -> tuple[str, str]:
    """(id, Markdown) of a new IT article in the synthetic style, carrying `word`, without a `status` key."""
    _, text = synthetic_article(number * 4, random.Random(number))  # number*4: DOMAINS[0] is IT
    article_id = f"{ID_PREFIX}{number:03d}-{word}"
    lines = []
    for line in text.splitlines():
        if line.startswith("status:"):
            continue
        if line.startswith("id:"):
            line = f"id: {article_id}"
        elif line.startswith("title:"):
            title = json.loads(line.split(":", 1)[1].strip())
            line = f"title: {json.dumps(f'{title} ({word})')}"
        elif line == "## Symptoms":
            line = f"## Symptoms\n- The {word} agent reports the problem in its tray icon."
        lines.append(line)
    return article_id, "\n".join(lines) + "\n"


def found(kb: KnowledgeBase, query: str, article_id: str) -> bool:
    return any(hit.article_id == article_id for hit in kb.search.find(query, LIMIT).hits)


def poll(kb: KnowledgeBase, query: str, article_id: str, timeout_s: float) -> tuple[float | None, int]:
    """Seconds of this instance's own polling until `article_id` is among the hits (None: not within the
    timeout), and how many searches it took."""
    started = time.perf_counter()
    polls = 0
    while True:
        polls += 1
        if found(kb, query, article_id):
            return time.perf_counter() - started, polls
        if time.perf_counter() - started > timeout_s:
            return None, polls
        time.sleep(0.005)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000


def remove_bench_articles(kb: KnowledgeBase) -> int:
    """Delete this benchmark's articles from the store (the caller rebuilds the index)."""
    ids = [a.id for a in kb.store.articles.all() if a.id.startswith(ID_PREFIX)]
    for article_id in ids:
        kb.store.articles.delete(article_id)
    return len(ids)


def live_calibration_changes(settings: Settings) -> int | None:
    meta = read_meta(settings.index_dir) or {}
    value = meta.get("changes_since_calibration")
    return int(value) if isinstance(value, int) else None


# --- Run ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    articles: int = 0
    chunks: int = 0
    initial_build_s: float = 0.0
    initial_embedded: int = 0
    cleanup_before: int = 0
    build_unchanged: Stats = field(default_factory=Stats)
    build_one_changed: Stats = field(default_factory=Stats)
    create: Stats = field(default_factory=Stats)
    review: Stats = field(default_factory=Stats)
    publish: Stats = field(default_factory=Stats)
    refresh: Stats = field(default_factory=Stats)
    searchable: Stats = field(default_factory=Stats)
    second: Stats = field(default_factory=Stats)
    second_reload_ms: float | None = None
    polls: list[int] = field(default_factory=list)
    second_polls: list[int] = field(default_factory=list)
    recalibrated: list[int] = field(default_factory=list)  # publish numbers that re-measured the calibration
    not_found: list[str] = field(default_factory=list)
    profile_top: list[dict[str, Any]] = field(default_factory=list)
    cleanup_build_s: float | None = None
    load_avg: tuple[float, float] = (float("nan"), float("nan"))
    errors: list[str] = field(default_factory=list)


def baseline(kb: KnowledgeBase, settings: Settings, result: Result, runs: int) -> None:
    for _ in range(runs):
        report, ms = timed(kb.indexing.build)
        if report.build.changed:
            result.errors.append("a build with nothing changed wrote a new generation")
        result.build_unchanged.samples_ms.append(ms)
    files = sorted(settings.articles_dir.glob("*.md"))
    target = files[len(files) // 2]
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original.rstrip("\n") + "\n5. Note the time it happened before calling.\n", encoding="utf-8")
        report, ms = timed(kb.indexing.build)
        result.build_one_changed.samples_ms.append(ms)
        if len(report.build.embedded) != 1:
            result.errors.append(f"one file changed, {len(report.build.embedded)} articles embedded")
    finally:
        target.write_text(original, encoding="utf-8")
    report, ms = timed(kb.indexing.build)  # the file restored: one article changed again
    result.build_one_changed.samples_ms.append(ms)
    log_console.print(
        f"baseline: build unchanged {', '.join(_ms(v) for v in result.build_unchanged.samples_ms)} ms; "
        f"one file changed {', '.join(_ms(v) for v in result.build_one_changed.samples_ms)} ms"
    )


def publish_one(
    kb: KnowledgeBase, number: int, word: str, *, profile: cProfile.Profile | None = None
) -> tuple[str, float, float, float]:
    """Create and review a draft, then publish it; (id, create ms, review ms, publish ms)."""
    article_id, markdown = draft_markdown(number, word)
    saved, create_ms = timed(lambda: kb.publishing.create(markdown, AUTHOR))
    if saved.article.id != article_id:
        raise RuntimeError(f"created {saved.article.id!r}, expected {article_id!r}")
    _, review_ms = timed(lambda: kb.publishing.transition(article_id, "review", AUTHOR, None))
    if profile is not None:
        profile.enable()
    _, publish_ms = timed(lambda: kb.publishing.transition(article_id, "published", REVIEWER, None))
    if profile is not None:
        profile.disable()
    return article_id, create_ms, review_ms, publish_ms


def run(args: argparse.Namespace, work: Path) -> Result:
    result = Result()
    folder = work / f"synthetic-{args.articles}-articles"
    started = time.perf_counter()
    generate_synthetic(folder, args.articles)
    log_console.print(f"{args.articles} synthetic articles in {folder} ({time.perf_counter() - started:.1f}s)")
    settings = Settings(
        data_dir=work / f"synthetic-{args.articles}-data", articles_dir=folder, teams_file=folder / "teams.yaml"
    )
    if not settings.multilingual:
        log_console.print("WARNING: KB_MULTILINGUAL is off in this environment: not the production setup")
    started = time.perf_counter()
    kb = KnowledgeBase(settings)
    second: KnowledgeBase | None = None
    try:
        embedder, multilingual = kb.indexing.embedder, kb.indexing.multilingual
        log_console.print(
            f"encoders {embedder.name} + {multilingual.name if multilingual else '(none)'} loaded in "
            f"{time.perf_counter() - started:.1f}s"
        )
        result.cleanup_before = remove_bench_articles(kb)
        if result.cleanup_before:
            log_console.print(f"removed {result.cleanup_before} article(s) a previous run left in the store")
        log_console.print(f"indexing {folder} into {settings.data_dir}")
        report, ms = timed(lambda: kb.indexing.build(progress=LogProgress("build")))
        result.initial_build_s = ms / 1000
        result.initial_embedded = len(report.build.embedded)
        result.articles, result.chunks = report.articles, report.build.chunks
        if report.problems:
            result.errors.append(f"{len(report.problems)} article problem(s), first: {report.problems[0]}")
        log_console.print(
            f"indexed {result.articles} articles / {result.chunks} chunks in {result.initial_build_s:.1f}s "
            f"(embedded {len(report.build.embedded)}, reused {len(report.build.reused)})"
        )
        kb.indexing.searcher()
        baseline(kb, settings, result, args.baseline_runs)

        # The second instance shares this process's encoders (a second server would load its own).
        second = KnowledgeBase(settings, embedder=embedder)
        _, result.second_reload_ms = timed(second.indexing.searcher)
        for probe in ("vpn keeps dropping", "payslip wrong amount"):  # warm both instances' search paths
            kb.search.find(probe, LIMIT)
            second.search.find(probe, LIMIT)

        # The publishing service calls this after a publish; wrapped to time the index's share of the call.
        refresh_ms: list[float] = []
        on_change = getattr(kb.publishing, "_on_change", None)
        if callable(on_change):

            def timed_refresh() -> object:
                value, ms = timed(on_change)
                refresh_ms.append(ms)
                return value

            kb.publishing._on_change = timed_refresh

        words = made_up_words(args.publishes + 1, random.Random(time.time_ns()))
        load_before = os.getloadavg()[0]
        for number, word in enumerate(words[: args.publishes], start=1):
            changes_before = live_calibration_changes(settings)
            refresh_ms.clear()
            article_id, create_ms, review_ms, publish_ms = publish_one(kb, number, word)
            own_s, polls = poll(kb, word, article_id, args.timeout)
            second_s, second_polls = poll(second, word, article_id, args.timeout)
            result.create.samples_ms.append(create_ms)
            result.review.samples_ms.append(review_ms)
            result.publish.samples_ms.append(publish_ms)
            result.refresh.samples_ms.extend(refresh_ms)
            result.polls.append(polls)
            result.second_polls.append(second_polls)
            if own_s is None:
                result.not_found.append(f"{article_id} (same instance)")
            else:
                result.searchable.samples_ms.append(publish_ms + own_s * 1000)
            if second_s is None:
                result.not_found.append(f"{article_id} (second instance)")
            else:
                result.second.samples_ms.append(publish_ms + second_s * 1000)
            if live_calibration_changes(settings) == 0 and changes_before != 0:
                result.recalibrated.append(number)
            log_console.print(
                f"[{number}/{args.publishes}] publish {publish_ms:.0f} ms"
                + (f" (refresh {refresh_ms[0]:.0f})" if refresh_ms else "")
                + f", searchable +{_ms(own_s * 1000 if own_s is not None else None)} ms ({polls} poll(s)), "
                f"2nd instance +{_ms(second_s * 1000 if second_s is not None else None)} ms ({second_polls})"
                + (" [recalibrated]" if number in result.recalibrated else "")
            )
        result.load_avg = (load_before, os.getloadavg()[0])

        if args.profile:
            profiler = cProfile.Profile()
            number = args.publishes + 1
            article_id, *_, publish_ms = publish_one(kb, number, words[number - 1], profile=profiler)
            out = work / "publish.prof"
            profiler.dump_stats(str(out))
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
            stats.print_stats(args.profile)
            log_console.print(f"cProfile of one publish ({publish_ms:.0f} ms; stats in {out}):\n{text.getvalue()}")
            result.profile_top = _profile_top(stats, args.profile)
    finally:
        try:
            removed = remove_bench_articles(kb)
            if removed:
                _, ms = timed(kb.indexing.build)  # the index back to the synthetic articles alone
                result.cleanup_build_s = ms / 1000
                log_console.print(f"removed the {removed} published article(s) again; build {ms / 1000:.1f}s")
        except Exception as exc:  # the figures are still worth printing
            result.errors.append(f"cleanup failed: {exc}")
        if second is not None:
            second.close()
        kb.close()
    return result


def _profile_top(stats: pstats.Stats, count: int) -> list[dict[str, Any]]:
    """The top `count` entries by cumulative time in the product's own code (kb/, indexer/, api/): where in it the
    time goes (the printed profile has the library frames too)."""
    entries = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)  # type: ignore[attr-defined]
    top = []
    for (filename, line, name), (_, calls, _tottime, cumtime, _) in entries:
        path = Path(filename)
        if not path.is_relative_to(REPO) or path.parts[len(REPO.parts)] not in ("kb", "indexer", "api"):
            continue  # this script's wrappers, the libraries, the venv
        where = path.relative_to(REPO).as_posix()
        top.append({"function": f"{where}:{line}({name})", "calls": calls, "cumtime_s": round(cumtime, 3)})
        if len(top) == count:
            break
    return top


# --- Report ------------------------------------------------------------------------------------------


def print_report(args: argparse.Namespace, r: Result) -> dict[str, Any]:
    setup = Table(title="Knowledge base", title_justify="left")
    for column in ("articles", "chunks", "first build s", "embedded", "build unchanged ms", "build 1 changed ms"):
        setup.add_column(column, justify="right", no_wrap=True)
    setup.add_row(
        str(r.articles),
        str(r.chunks),
        f"{r.initial_build_s:.1f}",
        str(r.initial_embedded),
        "/".join(_ms(v) for v in r.build_unchanged.samples_ms),
        "/".join(_ms(v) for v in r.build_one_changed.samples_ms),
    )
    console.print(setup)

    table = Table(title=f"Publishing, ms ({len(r.publish.samples_ms)} publishes)", title_justify="left")
    for column in ("measure", "p50", "p95", "max", "mean", "n"):
        table.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True)
    rows = [
        ("create (draft)", r.create),
        ("transition to review", r.review),
        ("publish call", r.publish),
        ("  of which refresh (index)", r.refresh),
        ("publish → searchable (same instance)", r.searchable),
        ("publish → searchable (2nd instance)", r.second),
    ]
    for name, stats in rows:
        d = stats.as_dict()
        table.add_row(name, _ms(d["p50_ms"]), _ms(d["p95_ms"]), _ms(d["max_ms"]), _ms(d["mean_ms"]), str(d["n"]))
    console.print(table)

    unchanged = statistics.median(r.build_unchanged.samples_ms) if r.build_unchanged.samples_ms else float("nan")
    one = statistics.median(r.build_one_changed.samples_ms) if r.build_one_changed.samples_ms else float("nan")
    publish_p50 = r.publish.p(50)
    ratios = {
        "publish_p50_over_build_unchanged": _round(publish_p50 / unchanged, 2) if unchanged else None,
        "publish_p50_over_build_one_changed": _round(publish_p50 / one, 2) if one else None,
        "second_p50_over_same_p50": _round(r.second.p(50) / r.searchable.p(50), 2) if r.searchable.samples_ms else None,
    }
    console.print(
        f"Same instance: found on the first search after the call in {sum(p == 1 for p in r.polls)}/{len(r.polls)} "
        f"publishes; 2nd instance in {sum(p == 1 for p in r.second_polls)}/{len(r.second_polls)} "
        f"(its first search reloads the new generation; a cold load took {_ms(r.second_reload_ms)} ms). "
        f"Calibration re-measured at publish(es) {r.recalibrated or 'none'} (KB_RECALIBRATE_AFTER). "
        f"Publish p50 is {ratios['publish_p50_over_build_unchanged']}x a `kb index` build with nothing changed "
        f"({_ms(unchanged)} ms) and {ratios['publish_p50_over_build_one_changed']}x one with one file changed "
        f"({_ms(one)} ms). Load average 1m {r.load_avg[0]:.1f}→{r.load_avg[1]:.1f}."
    )
    for problem in r.not_found:
        console.print(f"NOT FOUND within {args.timeout:.0f}s: {problem}", style="bold red")
    for error in r.errors:
        console.print(f"ERROR: {error}", style="bold red")
    return {
        "articles": r.articles,
        "chunks": r.chunks,
        "publishes": len(r.publish.samples_ms),
        "cpus": os.cpu_count(),
        "first_build_s": round(r.initial_build_s, 1),
        "first_build_embedded": r.initial_embedded,
        "build_unchanged_ms": [round(v, 1) for v in r.build_unchanged.samples_ms],
        "build_one_changed_ms": [round(v, 1) for v in r.build_one_changed.samples_ms],
        "create": r.create.as_dict(),
        "review": r.review.as_dict(),
        "publish": r.publish.as_dict(),
        "refresh": r.refresh.as_dict(),
        "searchable_same_instance": r.searchable.as_dict(),
        "searchable_second_instance": r.second.as_dict(),
        "second_instance_cold_reload_ms": _round(r.second_reload_ms),
        "polls_same_max": max(r.polls, default=None),
        "polls_second_max": max(r.second_polls, default=None),
        "recalibrated_at": r.recalibrated,
        **ratios,
        "load_avg_1m_before_after": [_round(v, 2) for v in r.load_avg],
        "cleanup_build_s": _round(r.cleanup_build_s),
        "profile_top": r.profile_top,
        "not_found": r.not_found,
        "errors": r.errors,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000, metavar="N", help="synthetic KB size (default 10000)")
    parser.add_argument("--publishes", type=int, default=50, metavar="N", help="publishes timed (default 50)")
    parser.add_argument(
        "--work",
        "--workdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the synthetic articles, store and index here (reused: a later run embeds only what it "
        "publishes) instead of a temporary folder",
    )
    parser.add_argument(
        "--baseline-runs", type=int, default=3, metavar="N", help="builds timed with nothing changed (default 3)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="give up finding one article after S s (default 120)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="run one more publish under cProfile and print its top N entries by cumulative time (default: off)",
    )
    args = parser.parse_args(argv)
    if args.articles < 1 or args.publishes < 1:
        parser.error("--articles and --publishes must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-publish-bench-") as tmp:
        work = args.work.resolve() if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log_console.print(f"work folder: {work}")
        try:
            result = run(args, work)
        except Exception:
            log_console.print(traceback.format_exc())
            return 1
    figures = print_report(args, result)
    sys.stdout.flush()
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
