"""Benchmarks of the light-curve ingest: ``python -m benchmarks.ingest_benchmark --help`` (see README.md)."""
