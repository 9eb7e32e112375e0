"""Benchmark: FHIR profile validation (validatiestraat.fhir) against fhir.resources, same data, same run.

Data: generated realistic STU3 BgZ searchsets (bench/fhir_data.py) of 500, 10,000 and 100,000
entries; every resource claims its zib2017 profile. The process is pinned to one core.

Measured:
* validatiestraat: ``get_validator("stu3").validate(bundle)``: base structure, every claimed profile
  (bundled essential versions), bindings, slicing, invariants, references resolved in the Bundle;
* fhir.resources 8 (STU3 models), structure only: ``Bundle.model_validate(bundle)`` and, as the
  faster variant, ``get_fhir_model_class(rt).model_validate(resource)`` per entry (also with the
  garbage collector off).

The contenders are measured in interleaved rounds (medians), so that all of them meet the same
load of the machine.

Prints resources per second, the ratio against the faster fhir.resources variant, and the time
per resource for each Bundle size (linear growth means a constant time per resource). The
validator is measured after a warm-up (up to 10 validations for small Bundles): it compiles the
object shapes and profile elements it meets often into Python functions as it is used, so the
figures are its steady state; the first validations are reported separately.

Usage: python bench/fhir_bench.py [--sizes 500 10000 100000] [--repeat 15] [--no-pin]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fhir_data import make_bundle  # noqa: E402


def timeit(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="FHIR validation benchmark")
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=15, help="repetitions for the smallest Bundle (fewer for bigger ones)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU core")
    ap.add_argument("--baseline-max", type=int, default=10_000, help="largest Bundle also measured with fhir.resources")
    args = ap.parse_args(argv)

    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    from fhir.resources.STU3 import get_fhir_model_class

    from validatiestraat.fhir import get_validator

    t0 = time.perf_counter()
    validator = get_validator("stu3")
    t_load = time.perf_counter() - t0

    print(f"python {sys.version.split()[0]}, cores used: {cores}")
    print(f"validator start-up (registry + base plan): {t_load * 1000:.0f} ms")
    rows = []
    for n in args.sizes:
        bundle = make_bundle(n)
        if n == args.sizes[0]:
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                first = validator.validate(bundle)
                times.append((time.perf_counter() - t0) * 1000)
            print(f"first validations of {n} entries: {times[0]:.0f} ms (compiles {len(first.profiles_used)} profiles), "
                  f"{times[1]:.0f} ms, {times[2]:.0f} ms (compiles the shapes and profile elements met twice or more)")
        res = validator.validate(bundle)
        if not res.ok:
            print("unexpected errors:", [str(i) for i in res.errors[:5]])
            return 1
        repeat = max(1, args.repeat if n <= 1000 else args.repeat // 5 if n <= 20_000 else 1)
        gc.collect()
        # warm-up: the validator compiles the object shapes and profile elements it meets often
        # (the hottest during the first validations, the rest once it is being reused), so measure
        # its steady state, as in a scenario run that validates every response
        warm = max(1, min(10, 20_000 // n))
        row: dict[str, Any] = {"n": n}
        if n > args.baseline_max:
            row["ours"] = timeit(lambda b=bundle: validator.validate(b), repeat, warmup=warm)
        else:
            Bundle = get_fhir_model_class("Bundle")
            entries = [(get_fhir_model_class(e["resource"]["resourceType"]), e["resource"]) for e in bundle["entry"]]

            def per_entry() -> None:
                for cls, r in entries:
                    cls.model_validate(r)

            def per_entry_nogc() -> None:
                # fhir.resources is faster with the garbage collector off (our validator switches
                # it off during a validation), so measure that too and compare with the best
                gc.disable()
                try:
                    per_entry()
                finally:
                    gc.enable()

            contenders: dict[str, Callable[[], Any]] = {
                "ours": lambda b=bundle: validator.validate(b),
                "fr_bundle": lambda b=bundle: Bundle.model_validate(b),
                "fr_entries": per_entry,
                "fr_entries_nogc": per_entry_nogc,
            }
            # interleaved rounds, so that every contender meets the same load of the machine
            rounds = max(3, repeat // 3)
            runs = {"ours": max(1, repeat // rounds)}
            times: dict[str, list[float]] = {k: [] for k in contenders}
            for k, fn in contenders.items():
                for _ in range(warm if k == "ours" else 1):
                    fn()
            for _ in range(rounds):
                for k, fn in contenders.items():
                    for _ in range(runs.get(k, 1)):
                        t0 = time.perf_counter()
                        fn()
                        times[k].append(time.perf_counter() - t0)
            for k, ts in times.items():
                row[k] = statistics.median(ts)
        rows.append(row)
        del bundle

    print()
    print(f"{'entries':>8} | {'validatiestraat':>26} | {'fhir.resources Bundle':>24} | {'fhir.resources per entry':>24} | "
          f"{'per entry, GC off':>24} | ratio")
    print("-" * 131)
    for row in rows:
        n = row["n"]
        ours = f"{n / row['ours']:>9,.0f} res/s {row['ours'] * 1000:>8.1f} ms"
        if "fr_bundle" in row:
            frb = f"{n / row['fr_bundle']:>8,.0f} res/s {row['fr_bundle'] * 1000:>7.0f} ms"
            fre = f"{n / row['fr_entries']:>8,.0f} res/s {row['fr_entries'] * 1000:>7.0f} ms"
            frg = f"{n / row['fr_entries_nogc']:>8,.0f} res/s {row['fr_entries_nogc'] * 1000:>7.0f} ms"
            best = min(row["fr_bundle"], row["fr_entries"], row["fr_entries_nogc"])
            ratio = f"{row['fr_bundle'] / row['ours']:.1f}x Bundle, {best / row['ours']:.1f}x best"
        else:
            frb = fre = frg = f"{'(not measured)':>24}"
            ratio = "-"
        print(f"{n:>8} | {ours:>26} | {frb:>24} | {fre:>24} | {frg:>24} | {ratio}")
    print()
    print("time per resource (linear growth = constant):")
    for row in rows:
        print(f"  {row['n']:>8} entries: {row['ours'] / row['n'] * 1e6:6.1f} µs/resource")
    first = rows[0]
    target_ok = first["n"] / first["ours"] >= 20_000
    print()
    print(f"target >= 20,000 profiled resources/s on {first['n']}: {'met' if target_ok else 'NOT met'}")
    if "fr_bundle" in first:
        best = min(first["fr_bundle"], first["fr_entries"], first["fr_entries_nogc"])
        print(f"target >= 5x fhir.resources: {first['fr_bundle'] / first['ours']:.1f}x its Bundle validation "
              f"({'met' if first['fr_bundle'] / first['ours'] >= 5 else 'NOT met'}), "
              f"{best / first['ours']:.1f}x its fastest variant ({'met' if best / first['ours'] >= 5 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
