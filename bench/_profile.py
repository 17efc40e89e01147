"""Where a portal request spends its time: the clerk's cycle run in-process under cProfile,
reported as the portal's own functions and templates by cumulative time per cycle."""

from __future__ import annotations

import cProfile
import pstats
import time
from pathlib import Path
from typing import Any

from flask import Flask

from bench._http import Response
from bench._support import PROJECT_ROOT, print_table

APP_ROOT = str(PROJECT_ROOT / "app")


class InProcessClient:
    """BenchClient's interface over Flask's test client (cookies kept by the test client)."""

    reconnects = 0

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def request(
        self,
        method: str,
        path: str,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        answer = self.client.open(path, method=method, data=fields, headers=headers or {})
        return Response(
            answer.status_code, answer.get_data(), {k.lower(): v for k, v in answer.headers.items()}
        )

    def close(self) -> None:
        pass  # no connection to close


def profile_cycles(cycle: Any, count: int, top: int = 20) -> None:
    """Run cycle(i) `count` times under cProfile; print the portal's heaviest functions."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for i in range(count):
        cycle(i)
    profiler.disable()
    per_cycle = (time.perf_counter() - started) * 1000 / count
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, calls, _, cumulative, _) in stats.items():
        if filename.startswith(APP_ROOT) and name != "<module>":
            where = f"{Path(filename).relative_to(PROJECT_ROOT)}:{line} {name}"
            rows.append([where, calls / count, cumulative * 1000 / count])
    rows.sort(key=lambda r: -r[2])
    print(
        f"{count} cycles in-process under cProfile: {per_cycle:.1f} ms per cycle "
        "(profiling adds its own cost; compare the shares)"
    )
    print_table(
        ["portal function or template", "calls/cycle", "cum ms/cycle", "share"],
        [[*r, f"{r[2] / per_cycle:.0%}"] for r in rows[:top]],
    )
    print()
