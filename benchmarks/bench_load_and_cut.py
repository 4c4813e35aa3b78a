"""Time to load all 48 MIT-BIH records and cut all their beats (clean + windows + RR context).

Run from the project root: .venv/bin/python -m benchmarks.bench_load_and_cut [--repeats 3]
Prints the median of the repeats for each stage and the number of beats cut.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from ecgapp.beats import extract_beats
from ecgapp.mitdb import MITDB_RECORDS, load_record


def run_once() -> tuple[float, float, int]:
    t0 = time.perf_counter()
    records = [load_record(name) for name in MITDB_RECORDS]
    t1 = time.perf_counter()
    n_beats = sum(len(extract_beats(rec)) for rec in records)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, n_beats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = [run_once() for _ in range(args.repeats)]
    load = statistics.median(r[0] for r in runs)
    cut = statistics.median(r[1] for r in runs)
    n_beats = runs[0][2]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}; median of {args.repeats} runs")
    print(f"load 48 records (signal + atr, integrity checks): {load:6.2f} s")
    print(f"cut {n_beats} beats (resample, band-pass, windows, RR): {cut:6.2f} s "
          f"({n_beats / cut:,.0f} beats/s)")
    print(f"total: {load + cut:6.2f} s")


if __name__ == "__main__":
    main()
