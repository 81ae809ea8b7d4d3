"""Benchmarks that print figures (see README.md). A package, so that a script imports its data as `bench.synthetic`."""
