"""Start-up time of the command line: `validatiestraat --help` and `<cmd> --help` against
`python -c pass`, interleaved in the same run (ratios hold when the machine's speed drifts).

    python bench/cli_bench.py [--rounds 7]

`validatiestraat --help` imports no command module (cli.COMMANDS lists them); `<cmd> --help`
imports only that command's module.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "validatiestraat --help": [sys.executable, "-m", "validatiestraat", "--help"],
    "validatiestraat run --help": [sys.executable, "-m", "validatiestraat", "run", "--help"],
    "validatiestraat faults --help": [sys.executable, "-m", "validatiestraat", "faults", "--help"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, cmd in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<32} {'median s':>9} {'min s':>7}  vs python -c pass")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<32} {median:9.3f} {min(values):7.3f}  {median / base:5.2f}x  (+{median - base:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
