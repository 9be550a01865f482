"""Benchmarks of the K2 ingest: ``python -m benchmarks.ingest_benchmark --help`` (see README.md)."""
