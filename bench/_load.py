"""Driving a gunicorn server with N client processes, each one simulated person, and summing up.

A workload object is one person: `start()` (untimed: log in, open the first page) and then
`cycle(key)` once per row (timed). Each request it sends goes through a Recorder, which keeps
the time, status and size per kind of request, so a slow cycle can be taken apart."""

from __future__ import annotations

import contextlib
import multiprocessing
import re
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench._http import BenchClient, Response
from bench._support import GunicornServer, percentile

RESULT_TIMEOUT_SECONDS = 900
BARRIER_TIMEOUT_SECONDS = 300


class CycleFailed(RuntimeError):
    """A cycle did not end as a browser's would (an error page, no fresh form)."""


class Recorder:
    """Sends requests for a workload and keeps (seconds, status, bytes) per request kind."""

    def __init__(self, client: BenchClient) -> None:
        self.client = client
        self.samples: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
        self.recording = False

    def send(
        self,
        label: str,
        method: str,
        path: str,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        started = time.perf_counter()
        response = self.client.request(method, path, fields, headers)
        if self.recording:
            self.samples[label].append(
                (time.perf_counter() - started, response.status, len(response.body))
            )
        return response


class Workload(Protocol):
    recorder: Recorder
    saves_rows: bool  # each cycle stores one row (False: a page-load workload)

    def start(self) -> None: ...
    def cycle(self, key: str) -> None: ...


WorkloadFactory = Callable[[int, int], Workload]  # (port, client index) -> workload


@dataclass
class LoadResult:
    name: str
    cycles: int = 0  # cycles that ended as they should (rows saved, or pages loaded)
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    requests: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    reconnects: int = 0
    server_cpu_seconds: float = 0.0  # gunicorn master + workers, during the timed part
    untimed_rows: int = 0  # rows saved by warm-up cycles (they are in the database too)

    @property
    def per_second(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_cycle(self) -> float:
        return self.server_cpu_seconds * 1000 / self.cycles if self.cycles else 0.0

    def latency_ms(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) * 1000

    def requests_per_cycle(self) -> float:
        total = sum(len(v) for v in self.requests.values())
        return total / (self.cycles + self.errors) if self.cycles + self.errors else 0.0

    def breakdown(self) -> list[tuple[str, float, float, float, float, str]]:
        """Per request kind: requests per cycle, p50 ms, p99 ms, median KB, statuses."""
        rows = []
        done = self.cycles + self.errors or 1
        for label, samples in self.requests.items():
            seconds = sorted(s for s, _, _ in samples)
            sizes = sorted(b for _, _, b in samples)
            statuses = sorted({str(status) for _, status, _ in samples})
            rows.append(
                (
                    label,
                    len(samples) / done,
                    percentile(seconds, 0.5) * 1000,
                    percentile(seconds, 0.99) * 1000,
                    percentile(sizes, 0.5) / 1024,
                    "/".join(statuses),
                )
            )
        return rows


@dataclass(frozen=True)
class Budget:
    """How long the timed part lasts: a number of cycles over all clients, or else seconds
    (each client cycles until the time is up; at least one cycle each)."""

    cycles: int | None = None
    seconds: float = 5.0

    def wants_more(self, done: int, deadline: float) -> bool:
        if self.cycles is not None:
            return done < self.cycles
        return done == 0 or time.perf_counter() < deadline

    def share(self, index: int, clients: int) -> Budget:
        if self.cycles is None:
            return self
        return Budget(self.cycles // clients + (index < self.cycles % clients), self.seconds)


def client_process(
    factory: WorkloadFactory,
    port: int,
    index: int,
    warmup: int,
    budget: Budget,
    barrier: Any,
    results: Any,
) -> None:
    """One person: start, warm up, wait for the others, then cycle within the budget, timed."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's clean-up handler
    try:
        workload = factory(port, index)
        workload.start()
        for i in range(warmup):
            workload.cycle(f"w{index}-{i}")
        barrier.wait(timeout=BARRIER_TIMEOUT_SECONDS)
        report = run_cycles(workload, index, budget)
        workload.recorder.client.close()
        report |= {"reconnects": workload.recorder.client.reconnects, "warmup": warmup}
        results.put(report)
    except BaseException as exc:  # report, and release the others from the barrier
        barrier.abort()
        results.put({"index": index, "crash": f"{type(exc).__name__}: {exc}"})


def run_cycles(workload: Workload, index: int, budget: Budget) -> dict[str, Any]:
    workload.recorder.recording = True
    latencies, errors, first_error = [], 0, None
    started = time.perf_counter()
    deadline = started + budget.seconds
    i = 0
    while budget.wants_more(i, deadline):
        i += 1
        sent = time.perf_counter()
        try:
            workload.cycle(f"c{index}-{i}")
        except CycleFailed as exc:
            errors += 1
            first_error = first_error or str(exc)
            continue
        latencies.append(time.perf_counter() - sent)
    return {
        "index": index,
        "started": started,
        "finished": time.perf_counter(),
        "latencies": latencies,
        "errors": errors,
        "first_error": first_error,
        "requests": dict(workload.recorder.samples),
    }


def run_load(
    name: str,
    factory: WorkloadFactory,
    server: GunicornServer,
    clients: int,
    budget: Budget,
    warmup: int,
) -> LoadResult:
    """Drive server with one process per client, for the budget's cycles or seconds."""
    context = multiprocessing.get_context("fork")
    # The clients and this process: the server's CPU time is read when the timed part starts.
    barrier, results = context.Barrier(clients + 1), context.Queue()
    processes = [
        context.Process(
            target=client_process,
            daemon=True,
            args=(factory, server.port, i, warmup, budget.share(i, clients), barrier, results),
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    cpu_before = cpu_after = 0.0
    try:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=BARRIER_TIMEOUT_SECONDS)
            cpu_before = server.cpu_seconds()
        reports = [results.get(timeout=RESULT_TIMEOUT_SECONDS) for _ in processes]
        cpu_after = server.cpu_seconds()
    except BaseException:  # interrupted: the clients stop now, not when their work is done
        for process in processes:
            process.kill()
        raise
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    result = summarize(name, reports)
    result.server_cpu_seconds = cpu_after - cpu_before
    return result


def summarize(name: str, reports: Sequence[dict[str, Any]]) -> LoadResult:
    result = LoadResult(name)
    crashed = [r["crash"] for r in reports if "crash" in r]
    result.problems += [f"client crashed: {c}" for c in crashed if "BrokenBarrier" not in c]
    finished = [r for r in reports if "crash" not in r]
    if not finished:
        return result
    requests: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    for report in finished:
        result.latencies += report["latencies"]
        result.errors += report["errors"]
        result.reconnects += report["reconnects"]
        result.untimed_rows += report["warmup"]
        if report["first_error"]:
            result.problems.append(report["first_error"])
        for label, samples in report["requests"].items():
            requests[label] += samples
    result.requests = dict(requests)
    result.latencies.sort()
    result.cycles = len(result.latencies)
    result.seconds = max(r["finished"] for r in finished) - min(r["started"] for r in finished)
    return result


def snippet(body: bytes) -> str:
    """The words of an answer, for an error message."""
    text = re.sub(r"<[^>]+>", " ", body.decode("utf-8", "replace"))
    return " ".join(text.split())[:160]
