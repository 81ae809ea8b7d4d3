"""Helpers shared by the tests and the benchmarks (never shipped: the `kb` wheel packages kb, indexer and api).

They live outside both `tests/` and `bench/` so that neither imports the other."""
