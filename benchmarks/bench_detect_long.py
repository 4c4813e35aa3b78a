"""Beat detection on a 24-hour, 2-lead, 360 Hz recording: time and peak memory.

Run from the project root: .venv/bin/python -m benchmarks.bench_detect_long
The 24 hours are the 48 MIT-BIH records (30 min each) joined end to end, both leads (MLII first where the
record has it). Memory is Python's traced allocations (numpy reports its arrays to tracemalloc): the peak
during detection minus what was held before it, i.e. what detection itself needs on top of the recording.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from ecgapp import load_record
from ecgapp.detection import detect_r_peaks
from ecgapp.mitdb import MITDB_RECORDS


def main() -> None:
    parts, n_ref = [], 0
    for name in MITDB_RECORDS:
        rec = load_record(name)
        li = rec.lead_index()
        parts.append(rec.signal[:, [li, 1 - li]])
        n_ref += len(rec.annotations)
    signal = np.concatenate(parts)
    del parts
    hours = signal.shape[0] / 360.0 / 3600
    print(f"recording: {hours:.1f} h, 2 leads, 360 Hz, {signal.nbytes / 2**20:.0f} MiB as float32")
    lead = np.ascontiguousarray(signal[:, 0])
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    t = time.perf_counter()
    peaks = detect_r_peaks(lead, 360.0, lead="24 h lead 1")
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"detected {peaks.size:,} beats in {elapsed:.1f} s; peak memory of detection {(peak - before) / 2**20:.0f} MiB "
          f"(the lead itself: {lead.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
