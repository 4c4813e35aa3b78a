"""Probe (experiments row 38): how far each DS1 record's reference N, S and V beats lie from its commonest shape.

Run from the project root: .venv/bin/python -m benchmarks.probe_far_shape

No network: each DS1 record's templates (``templates.beat_templates`` of the model inputs, as serving groups them),
each beat's gap (``Templates.gap``) from the shape holding most of the record's beats, and per record the share of
its reference N beats beyond 0.5 (normal beats that take a second shape: why the far-shape step also counts the
shapes the network reads mostly as N as normal), and its S and V beats beyond 0.3 and 0.5 (why the candidates start
at 0.5, the templates' own threshold for one shape). DS2 is not read. Writes benchmarks/results/far_shape_probe.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import extract_beats
from ecgapp.features import beat_inputs
from ecgapp.mitdb import DS1, load_record
from ecgapp.templates import beat_templates

RESULTS = Path("benchmarks/results/far_shape_probe.md")


def main() -> None:
    lines = ["# Gaps from the commonest shape, DS1 reference labels", "", "`.venv/bin/python -m benchmarks.probe_far_shape`",
             "", "| record | N beats | N beyond 0.5 | S beats | S beyond 0.3 | S beyond 0.5 | V beats | V beyond 0.5 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    totals = np.zeros(7, int)
    for name in DS1:
        beats = extract_beats(load_record(name))
        t = beat_templates(*beat_inputs(beats))
        shape = t.shape[t.assignment]
        gap = t.gap[shape, np.bincount(shape).argmax()]
        label = np.asarray(AAMI_CLASSES)[np.clip(beats.label, 0, None)]
        n, s, v = label == "N", label == "S", label == "V"
        row = [n.sum(), (n & (gap > 0.5)).sum(), s.sum(), (s & (gap > 0.3)).sum(), (s & (gap > 0.5)).sum(), v.sum(),
               (v & (gap > 0.5)).sum()]
        totals += row
        lines.append(f"| {name} | {row[0]} | {row[1]} ({100 * row[1] / max(row[0], 1):.0f}%) | {row[2]} | {row[3]} | "
                     f"{row[4]} | {row[5]} | {row[6]} |")
    lines.append(f"| all | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} | {totals[4]} | {totals[5]} | "
                 f"{totals[6]} |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
