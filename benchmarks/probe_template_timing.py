"""Probe (issue 10): the templates' timing thresholds against a reader who labels one beat per template, on DS1.

Run from the project root: .venv/bin/python -m benchmarks.probe_template_timing

No network: every DS1 record's templates (``templates.beat_templates`` of the model inputs, not split by any network's
labels) at each pair of thresholds (early: pre RR over the local RR under EARLY; fast: pre RR over the record's
median under FAST; shipped 0.85 and 0.75), each template's representative beat given its reference label and that
label given to every other member; prints the templates (labels the reader gives) and SVEB Se / +P / F1 and VEB F1 on
the beats not labelled. DS2 is not read. Writes benchmarks/results/template_timing_probe.md.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ecgapp.beats import extract_beats
from ecgapp.features import beat_inputs
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS1, load_record
from ecgapp.templates import EARLY_RR, FAST_RR, beat_templates

RESULTS = Path("benchmarks/results/template_timing_probe.md")
EARLY = (0.8, 0.85, 0.9, 0.95)
FAST = (0.7, 0.75, 0.8, 0.85)


def main() -> None:
    records = []
    for name in DS1:
        beats = extract_beats(load_record(name))
        records.append((*beat_inputs(beats), beats.label))
    lines = ["# Template timing thresholds, one reference label per template, DS1", "",
             "`.venv/bin/python -m benchmarks.probe_template_timing`", "",
             "| early | fast | templates | SVEB Se | SVEB +P | SVEB F1 | VEB F1 |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for early, fast in itertools.product(EARLY, FAST):
        truth, given, k = [], [], 0
        for waves, rr, y in records:
            t = beat_templates(waves, rr, early_rr=early, fast_rr=fast)
            rest = np.ones(len(y), bool)
            rest[t.representative] = False
            truth.append(y[rest])
            given.append(y[t.representative][t.assignment][rest])
            k += len(t)
        r = aami_report(np.concatenate(truth), np.concatenate(given))
        shipped = " (shipped)" if (early, fast) == (EARLY_RR, FAST_RR) else ""
        lines.append(f"| {early:g}{shipped} | {fast:g} | {k} | {r.se['S']:.3f} | {r.ppv['S']:.3f} | {r.f1['S']:.3f} | "
                     f"{r.f1['V']:.3f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
