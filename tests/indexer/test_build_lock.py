"""One index build at a time: concurrent builders wait for each other and never delete what another uses."""

from __future__ import annotations

import threading
from pathlib import Path

from indexer.build import IndexDocument, build_index, build_lock
from indexer.chunking import SourceRecord
from indexer.generation import current_generation
from indexer.load import load_index
from tests.fakes import HashingEmbedder

EMBEDDER = HashingEmbedder()


def _documents(variant: int) -> list[IndexDocument]:
    """A small KB whose text changes with `variant`, so that every build writes a new generation."""
    return [
        IndexDocument(
            f"doc-{n}",
            f"{n}-{variant}",
            [SourceRecord(f"doc-{n}", f"Article {n}", "Resolution", f"step {variant} of article {n} " * 20)],
        )
        for n in range(8)
    ]


def test_two_builders_at_once_never_break_the_index(tmp_path: Path) -> None:
    root = tmp_path / "index"
    build_index(_documents(0), EMBEDDER, root)
    failures: list[BaseException] = []
    broken_pointers: list[str] = []
    building = threading.Event()

    def builder(offset: int) -> None:
        try:
            for n in range(25):
                build_index(_documents(offset + n), EMBEDDER, root)
        except BaseException as exc:  # every failure is the finding
            failures.append(exc)

    def checker() -> None:
        while building.is_set():
            pointer = (root / "CURRENT").read_text(encoding="utf-8").strip()
            # Broken only if CURRENT still names it: the checker may have been paused while two builds went by,
            # and a generation two builds old is rightly gone.
            if not (root / pointer).is_dir() and (root / "CURRENT").read_text(encoding="utf-8").strip() == pointer:
                broken_pointers.append(pointer)

    building.set()
    threads = [threading.Thread(target=builder, args=(1000 * i,)) for i in (1, 2)]
    watcher = threading.Thread(target=checker)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    building.clear()
    watcher.join()

    assert failures == []
    assert broken_pointers == []
    live = current_generation(root)
    assert live is not None
    assert sorted(load_index(root, EMBEDDER.name, EMBEDDER.dimension).docs) == [f"doc-{n}" for n in range(8)]
    # What is left: the live generation and the one before it, no staging folder.
    leftovers = [p.name for p in root.iterdir() if p.is_dir()]
    assert live.name in leftovers
    assert len(leftovers) == 2
    assert not any(name.startswith(".gen-") for name in leftovers)


def test_a_second_build_waits_for_the_first_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "index"
    told = threading.Event()
    finished = threading.Event()

    def second() -> None:
        build_index(_documents(1), EMBEDDER, root, on_wait=told.set)
        finished.set()

    with build_lock(root):
        thread = threading.Thread(target=second)
        thread.start()
        assert told.wait(10), "the waiting builder was not told that another build runs"
        assert not finished.wait(0.3), "the second build ran while the first held the lock"
    thread.join(10)
    assert finished.is_set()
    assert current_generation(root) is not None


def test_the_lock_is_reentrant_for_a_caller_that_holds_it_around_a_build(tmp_path: Path) -> None:
    root = tmp_path / "index"
    with build_lock(root):
        report = build_index(_documents(0), EMBEDDER, root)
    assert current_generation(root).name == report.generation  # type: ignore[union-attr]


def test_a_stale_staging_folder_of_a_dead_builder_is_removed_but_never_the_live_generation(tmp_path: Path) -> None:
    root = tmp_path / "index"
    first = build_index(_documents(0), EMBEDDER, root).generation
    (root / ".gen-dead-builder").mkdir()
    second = build_index(_documents(1), EMBEDDER, root).generation
    # Someone points CURRENT back at the first generation (a roll-back by hand) before the next build.
    (root / "CURRENT").write_text(first + "\n", encoding="utf-8")
    third = build_index(_documents(2), EMBEDDER, root).generation
    names = {p.name for p in root.iterdir() if p.is_dir()}
    assert ".gen-dead-builder" not in names
    assert {third, first} <= names
    assert second not in names
