"""Benchmark: the DVA suite against the embedded reference DVA.

Prints (1) the wall time of the full default suite as `validatiestraat run` runs it, including the
scenarios that must wait for a code to expire (tag `slow`), and (2) for the scenarios that do not
wait, the concurrent engine (the default, 8 scenarios at a time) against the sequential baseline
(one at a time) measured in the same run, with the ratio and HTTP exchanges per second.
Usage: python bench/run_bench.py [--repeat N]
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
    with tempfile.TemporaryDirectory() as tmp, ReferenceDVA(workdir=Path(tmp), code_lifetime=2.0) as dva:
        start = time.perf_counter()
        target = target_from_dict(dva.target_dict(), Path(tmp))
        setup = time.perf_counter() - start
        times = [one_run(target, scenarios, 8) for _ in range(args.repeat)]
        full = statistics.median(t[0] for t in times)
        print(f"{'full default suite':28s} median {full:6.2f} s over {args.repeat} runs; {times[0][1]} checks, "
              f"{times[0][2]} HTTP exchanges, {'READY' if times[0][3] else 'NOT READY'} "
              f"(includes the waits of the 'slow' scenarios)")
        quick = [s for s in scenarios if "slow" not in s.tags]
        results = {}
        for label, concurrency in (("concurrent (default, 8)", 8), ("sequential baseline (1)", 1)):
            runs = [one_run(target, quick, concurrency) for _ in range(args.repeat)]
            results[label] = statistics.median(r[0] for r in runs)
            checks, exchanges, ready = runs[0][1], runs[0][2], runs[0][3]
            print(f"{label:28s} median {results[label]:6.2f} s over {args.repeat} runs; "
                  f"{checks} checks, {exchanges} HTTP exchanges ({exchanges / results[label]:.0f}/s), "
                  f"{'READY' if ready else 'NOT READY'} (without the 'slow' scenarios)")
    base, conc = results["sequential baseline (1)"], results["concurrent (default, 8)"]
    print(f"scenario loading + lint: {load_time * 1000:.0f} ms; target setup: {setup * 1000:.0f} ms")
    print(f"speed-up of the default over the sequential baseline: {base / conc:.2f}x")


if __name__ == "__main__":
    main()
