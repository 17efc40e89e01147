"""Benchmarks (not tests): `make bench` or `python -m bench [MODULE...] [--quick]`.

Every public module here with a `main(argv) -> int` is one benchmark; `bench/__main__.py`
finds and runs them in turn.
"""
