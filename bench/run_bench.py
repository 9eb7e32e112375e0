"""Benchmark: the full DVA suite against the embedded reference DVA.

Prints the wall time of `validatiestraat run` (scenarios concurrent, the default) and, in the same
run, the sequential baseline (one scenario at a time), with the ratio, requests per second and
the number of checks. Usage: python bench/run_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from validatiestraat.engine.runner import Runner
from validatiestraat.reference.server import ReferenceDVA
from validatiestraat.report.readiness import assess
from validatiestraat.scenario.loader import bundled_scenarios_dir, load_scenarios
from validatiestraat.target import target_from_dict


def one_run(target, scenarios, concurrency: int) -> tuple[float, int, int, bool]:
    runner = Runner(target, scenarios, concurrency=concurrency)
    t0 = time.perf_counter()
    result = asyncio.run(runner.run())
    elapsed = time.perf_counter() - t0
    return elapsed, len(result.checks), len(result.exchanges), assess(result).ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    scenarios = [s for s in load_scenarios([bundled_scenarios_dir()]) if s.role in ("dva", "tls", "lists")]
    load_time = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp, ReferenceDVA(workdir=Path(tmp), code_lifetime=3.0) as dva:
        start = time.perf_counter()
        target = target_from_dict(dva.target_dict(), Path(tmp))
        setup = time.perf_counter() - start
        results = {}
        for label, concurrency in (("concurrent (default, 8)", 8), ("sequential baseline (1)", 1)):
            times = []
            for _ in range(args.repeat):
                elapsed, checks, exchanges, ready = one_run(target, scenarios, concurrency)
                times.append(elapsed)
            results[label] = statistics.median(times)
            print(f"{label:28s} median {results[label]:6.2f} s over {args.repeat} runs; "
                  f"{checks} checks, {exchanges} HTTP exchanges ({exchanges / results[label]:.0f}/s), "
                  f"{'READY' if ready else 'NOT READY'}")
    base, conc = results["sequential baseline (1)"], results["concurrent (default, 8)"]
    print(f"scenario loading + lint: {load_time * 1000:.0f} ms; target setup: {setup * 1000:.0f} ms")
    print(f"speed-up of the default over the sequential baseline: {base / conc:.2f}x")


if __name__ == "__main__":
    main()
