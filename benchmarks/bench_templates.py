"""Beat templates: how pure (the settings chosen on DS1) and how fast (issue 10: a 30-minute record in under 1 s,
24 hours in under 30 s).

    .venv/bin/python -m benchmarks.bench_templates

Purity: a reader labels one beat per template (the member closest to its median) from the reference and the
template's other beats take that label; pooled AAMI statistics over the other beats of the 22 DS1 records, for a
grid of the shape threshold and the two timing splits (early against the local rhythm, fast against the
record's median RR). No network is involved, and DS2 is not looked at: the shipped settings
(``templates.MATCH_DISTANCE``, ``EARLY_RR``, ``FAST_RR``) are the grid's choice.

``templates.beat_templates`` on the model inputs of every MIT-BIH record (reference beats, first lead: the
30-minute case; with labels, as the app splits templates the network labels two ways: the reference labels
stand in for the network's, the split costs the same whoever labelled), then on all 48 records' beats joined into one 24-hour-sized set of about 109,000 beats (a
harder case than one patient's day: 48 patients' shapes, so the template cap is reached). One thread, wall
clock, the best of 3 runs. Writes benchmarks/results/templates.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import extract_beats
from ecgapp.features import beat_inputs
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS1, list_records, load_record
from ecgapp.templates import EARLY_RR, FAST_RR, MATCH_DISTANCE, beat_templates

GRID = [(0.35, 0.85, 0.0), (0.5, 0.85, 0.0), (0.25, 0.85, 0.75), (0.35, 0.85, 0.7), (0.35, 0.85, 0.75),
        (0.35, 0.85, 0.8), (0.35, 0.9, 0.75), (0.5, 0.85, 0.75), (0.7, 0.85, 0.75)]

OUT = Path("benchmarks/results/templates.md")


def best_of(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def purity(data: dict, threshold: float, early: float, fast: float) -> tuple[float, object]:
    """(templates per record, pooled AamiReport) of one label per template given to the whole template."""
    truth, given, k = [], [], 0
    for waves, rr, y in data.values():
        t = beat_templates(waves, rr, threshold, early, fast)
        rep = t.representative
        label = y[rep][t.assignment]
        scored = (y >= 0) & (label >= 0)
        scored[rep] = False
        truth.append(y[scored])
        given.append(label[scored])
        k += len(t)
    return k / len(data), aami_report(np.concatenate(truth), np.concatenate(given))


def main() -> None:
    torch.set_num_threads(1)
    rows, all_w, all_rr, all_labels, ds1 = [], [], [], [], {}
    for info in list_records():
        beats = extract_beats(load_record(info.name), lead=0)
        waves, rr = beat_inputs(beats)
        if info.name in DS1:
            ds1[info.name] = (waves, rr, beats.label)
        all_w.append(waves)
        all_rr.append(rr)
        letters = np.asarray(AAMI_CLASSES)[np.maximum(beats.label, 0)]
        all_labels.append(letters)
        seconds = best_of(lambda: beat_templates(waves, rr, labels=letters))
        rows.append((info.name, len(waves), len(beat_templates(waves, rr, labels=letters)), seconds))
    w, rr, letters = np.concatenate(all_w), np.concatenate(all_rr), np.concatenate(all_labels)
    day = best_of(lambda: beat_templates(w, rr, labels=letters), runs=1)
    k_day = len(beat_templates(w, rr, labels=letters))
    secs = np.array([r[3] for r in rows])
    lines = ["# Beat templates", "", "`.venv/bin/python -m benchmarks.bench_templates` (one thread)", "",
             "## Purity on DS1: one label per template given to all its members (the settings' choice)", "",
             "| shape threshold | early (pre RR / local) | fast (pre RR / record median; 0 = no split) | templates per "
             "record | VEB Se | VEB +P | VEB F1 | SVEB Se | SVEB +P | SVEB F1 | macro-F1 (N,S,V) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for thr, early, fast in GRID:
        per, r = purity(ds1, thr, early, fast)
        mark = "**" if (thr, early, fast) == (MATCH_DISTANCE, EARLY_RR, FAST_RR) else ""
        lines.append(f"| {mark}{thr}{mark} | {early} | {fast} | {per:.0f} | {r.se['V']:.3f} | {r.ppv['V']:.3f} | "
                     f"{r.f1['V']:.3f} | {r.se['S']:.3f} | {r.ppv['S']:.3f} | {r.f1['S']:.3f} | {r.macro_f1:.3f} |")
    lines += ["", "## Speed", "",
             f"- 48 MIT-BIH records (30 min each, reference beats): median {np.median(secs):.3f} s, longest "
             f"{secs.max():.3f} s ({rows[int(secs.argmax())][0]}); {np.median([r[2] for r in rows]):.0f} templates "
             f"per record (median), {min(r[2] for r in rows)}-{max(r[2] for r in rows)}",
             f"- all 48 records' {len(w):,} beats as one set (24-hour size): {day:.2f} s, {k_day} templates", "",
             "| record | beats | templates | seconds |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {n} | {k} | {s:.3f} |" for name, n, k, s in rows]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:lines.index("| record | beats | templates | seconds |")]))


if __name__ == "__main__":
    main()
