"""The CUDA path against the CPU path: the app's analysis and explanations of the same records on both devices.

Run from the project root on a machine with an NVIDIA GPU (CI has none; this machine neither):
    python -m benchmarks.bench_cuda [--weights weights/hybrid] [--records 119 208 223]

For each record, ``analysis.analyse`` (load, filter, cut, model, AF and on-time V gates, quality) runs on the CPU
and on CUDA with the shipped weights; printed: beats whose label differs, the largest probability difference,
and the time of each (median of 3, after one warm-up). Then a few beats of each record (the first of each
predicted class) are explained with every attribution method on both devices; printed: the correlation of the
two waveform attributions and the largest difference of their RR attributions. Exit status 1 when a label
differs or an attribution correlation is under 0.99.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from ecgapp.aami import AAMI_CLASSES
from ecgapp.analysis import analyse
from ecgapp.explain import METHODS, explain_beat
from ecgapp.mitdb import load_record
from ecgapp.model import load_model


def timed(fn, repeats: int = 3):
    fn()  # warm-up (CUDA kernels, cuDNN plans)
    times, out = [], None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    parser.add_argument("--records", nargs="+", default=["119", "208", "223"])
    parser.add_argument("--against", default="cuda", help="the device compared with the CPU ('cpu' checks this script)")
    args = parser.parse_args()
    if args.against == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to compare")
        return 2
    cpu, card = load_model(args.weights, device="cpu")
    gpu, _ = load_model(args.weights, device=args.against)
    print(f"model {card['name']}: CPU ({torch.get_num_threads()} threads) against "
          f"{torch.cuda.get_device_name(0) if args.against == 'cuda' else args.against}, torch {torch.__version__}")
    bad = False
    for name in args.records:
        record = load_record(name)
        a_cpu, t_cpu = timed(lambda: analyse(cpu, record))
        a_gpu, t_gpu = timed(lambda: analyse(gpu, record))
        differ = int((a_cpu.table["label"] != a_gpu.table["label"]).sum())
        cols = [f"p_{c}" for c in AAMI_CLASSES]  # rounded to 4 decimals in the table
        dp = float(np.abs(a_cpu.table[cols].to_numpy() - a_gpu.table[cols].to_numpy()).max())
        bad |= differ > 0
        print(f"{name}: {len(a_cpu.table)} beats, labels differing {differ}, largest probability difference "
              f"{dp:.2e}; analysis CPU {t_cpu:.2f} s, {args.against.upper()} {t_gpu:.2f} s")
        firsts = [int(np.flatnonzero(a_cpu.table["label"].to_numpy() == c)[0])
                  for c in dict.fromkeys(a_cpu.table["label"])]
        for i in firsts:
            row = a_cpu.table.iloc[i]
            flags = {"in_af": bool(row.get("af", False)), "on_time_v": bool(row.get("on_time_v", False))}
            for method in METHODS:
                e_cpu = explain_beat(cpu, a_cpu.waves, a_cpu.rr, i, method=method, **flags)
                e_gpu = explain_beat(gpu, a_gpu.waves, a_gpu.rr, i, method=method, **flags)
                corr = float(np.corrcoef(e_cpu.wave_attribution, e_gpu.wave_attribution)[0, 1])
                drr = float(np.abs(e_cpu.rr_attribution - e_gpu.rr_attribution).max())
                bad |= not corr >= 0.99 or e_cpu.target != e_gpu.target
                print(f"  beat {i} ({row['label']}) {method}: target {e_cpu.target}/{e_gpu.target}, waveform "
                      f"attribution correlation {corr:.5f}, largest RR attribution difference {drr:.2e}")
    print("CUDA path " + ("DIFFERS from the CPU path" if bad else "agrees with the CPU path"))
    return int(bad)


if __name__ == "__main__":
    sys.exit(main())
