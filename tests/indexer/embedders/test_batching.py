"""The query batcher: single texts that arrive together are encoded in one call, each caller gets its own vector."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from indexer.embedders import ProgressCallback, Vectors
from indexer.embedders.batching import QueryBatcher
from tests.fakes import HashingEmbedder


class SlowRecorder(HashingEmbedder):
    """The hashing embedder, slow enough that queries pile up, recording each call's texts."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.first = threading.Event()
        self.go = threading.Event()
        self._fail_on = fail_on

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> Vectors:
        self.calls.append(list(texts))
        self.first.set()
        self.go.wait(10)
        if self._fail_on in texts:
            raise RuntimeError("the model failed")
        return super().encode(texts, progress)


def test_queries_that_arrive_while_the_encoder_is_busy_go_in_one_call() -> None:
    inner = SlowRecorder()
    batcher = QueryBatcher(inner, workers=1)
    texts = ["vpn drops", "printer offline", "badge broken", "vpn drops"]
    results: dict[int, Vectors] = {}

    def one(number: int) -> None:
        results[number] = batcher.submit(texts[number])()

    threads = [threading.Thread(target=one, args=(number,)) for number in range(len(texts))]
    threads[0].start()
    assert inner.first.wait(10)  # the first query holds the only worker
    for thread in threads[1:]:
        thread.start()
    for _ in range(500):  # the other three wait in the queue
        if batcher._queue.qsize() == 3:
            break
        time.sleep(0.01)
    inner.go.set()
    for thread in threads:
        thread.join(10)
    # The second call took all three waiting queries, the repeated question once.
    assert inner.calls[0] == ["vpn drops"]
    assert sorted(inner.calls[1]) == ["badge broken", "printer offline", "vpn drops"]
    assert len(inner.calls) == 2
    reference = HashingEmbedder()
    for number, text in enumerate(texts):
        np.testing.assert_array_equal(results[number], reference.encode([text])[0])


def test_an_encoder_failure_reaches_every_caller_of_its_batch_and_the_batcher_lives_on() -> None:
    inner = SlowRecorder(fail_on="boom")
    inner.go.set()
    batcher = QueryBatcher(inner, workers=2)
    with pytest.raises(RuntimeError, match="the model failed"):
        batcher.submit("boom")()
    assert batcher.submit("fine")().shape == (HashingEmbedder.dimension,)


@pytest.mark.parametrize("texts", [["a b", "c d", "e f"], ["one document"]])
def test_documents_go_straight_to_the_encoder(texts: list[str]) -> None:
    inner = SlowRecorder()
    inner.go.set()
    batcher = QueryBatcher(inner, workers=1)
    done: list[int] = []
    vectors = batcher.encode(texts, done.append)
    assert inner.calls == [texts] and done == [len(texts)]
    assert batcher.name == inner.name and batcher.dimension == inner.dimension
    np.testing.assert_array_equal(vectors, HashingEmbedder().encode(texts))


def test_queries_go_to_their_own_encoder_and_documents_to_the_indexs() -> None:
    """A faster, lower-precision encoder for queries never writes a vector into the index."""
    documents, queries = SlowRecorder(), SlowRecorder()
    documents.go.set()
    queries.go.set()
    batcher = QueryBatcher(documents, workers=1, queries=queries)
    batcher.encode(["the vpn article"])
    batcher.submit("vpn drops")()
    assert documents.calls == [["the vpn article"]] and queries.calls == [["vpn drops"]]
    assert batcher.name == documents.name


def test_a_query_encoder_of_another_width_is_refused() -> None:
    class Wider(HashingEmbedder):
        dimension = HashingEmbedder.dimension + 1

    with pytest.raises(ValueError, match="dimensions"):
        QueryBatcher(HashingEmbedder(), workers=1, queries=Wider())
