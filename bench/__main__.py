"""Run the benchmarks: every public module of this package that has a `main(argv)`.

    python -m bench                      # all of them, full size
    python -m bench --quick              # all of them, small sizes
    python -m bench clerk_cycle list_page --backend sqlite
    make bench BENCH_ARGS="--quick"

`--quick` and `--backend` are passed on to each module; other options after the module names
are passed on unchanged (so give them only when running modules that accept them).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PACKAGE = "bench"
# Run first, in this order; any other benchmark module follows alphabetically.
PREFERRED_ORDER = ("clerk_cycle", "list_page")


def discover() -> dict[str, Callable[[list[str]], int]]:
    """Every bench module with a main(argv), by name, in running order."""
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )
    names.sort(
        key=lambda n: PREFERRED_ORDER.index(n) if n in PREFERRED_ORDER else len(PREFERRED_ORDER)
    )
    found = {}
    for name in names:
        module = importlib.import_module(f"{PACKAGE}.{name}")
        if callable(getattr(module, "main", None)):
            found[name] = module.main
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("modules", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--backend", help="passed on: sqlite | mysql | all")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    args, passthrough = parser.parse_known_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [m for m in args.modules if m not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have {', '.join(available)}")
    shared = (["--quick"] if args.quick else []) + (
        ["--backend", args.backend] if args.backend else []
    )
    failed = []
    for name in args.modules or list(available):
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        status = available[name]([*shared, *passthrough]) or 0
        print(
            f"=== bench.{name}: {'ok' if status == 0 else f'exit {status}'} "
            f"in {time.perf_counter() - started:.0f} s ===",
            flush=True,
        )
        if status:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
