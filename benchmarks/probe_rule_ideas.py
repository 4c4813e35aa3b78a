"""Two rule ideas probed on the shipped model's out-of-fold DS1 beats (experiments row 44): neither is kept.

Run from the project root: .venv/bin/python -m benchmarks.probe_rule_ideas

The out-of-fold logits of weights/hybrid_cv.npz served with the shipped rule (fitted on all folds: in-sample, a probe
only). (1) A "near-shape V" step, the mirror of the far-shape step: a beat read as V whose morphology group is one of
the record's normal shapes (or within 0.3-0.5 of one: ``Templates.gap``) is not ventricular. Counted: the beats read
as V by their group's gap to the nearest normal shape and by how early they come, with their reference labels.
(2) A "premature narrow beat is S" step: a beat served as N, outside the AF mask, that comes early against the
local rhythm (pre RR / local RR under 0.7-0.85), fast against the record (pre RR / median under 0.8-1.0) and early
against the interval before (pre RR / previous RR under 0.8, 0.9 or any) becomes S. Scored: macro-F1, SVEB Se and
+P of each setting, and where the missed S beats lie in timing. Writes benchmarks/results/rule_ideas_probe.md.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

import train
from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import RR_FEATURES
from ecgapp.metrics import aami_report
from ecgapp.model import load_model
from ecgapp.rhythm import apply_s_gate, apply_v_gate

RESULTS = Path("benchmarks/results/rule_ideas_probe.md")
N, S, V = (AAMI_CLASSES.index(c) for c in "NSV")
LOCAL, NORM, PREV = (RR_FEATURES.index(c) for c in ("pre_rr_local", "pre_rr_norm", "pre_rr_prev"))


def main() -> None:
    oof = np.load("weights/hybrid_cv.npz")
    z, y, records, rr = oof["logits"], oof["labels"], oof["records"], oof["rr"]
    model, _ = load_model("weights/hybrid", device="cpu")
    bias = model.logit_bias.numpy()
    groups = train.templates_of(records, 360.0)
    shape, gap = train.shapes_of(records, 360.0)
    gated, af = train.gated(z, records, rr[:, 0], float(model.af_threshold), return_af=True)
    gated = apply_s_gate(apply_v_gate(gated, rr, tuple(model.v_gate.tolist()))[0], rr, tuple(model.s_gate.tolist()))[0]
    mix, far = float(model.template_mix), float(model.far_shape)
    t = train.rule_temperature(z, gated, y, bias, groups, mix)
    best = train.served(gated, bias, t, groups, mix, True, (shape, gap), far).argmax(axis=1)
    base = aami_report(y, best)
    lines = ["# Two rule ideas on the shipped model's out-of-fold DS1 beats (experiments row 44)", "",
             "`.venv/bin/python -m benchmarks.probe_rule_ideas` (the shipped rule fitted on all folds: in-sample, "
             "a probe)", "",
             f"Served: macro-F1 {base.macro_f1:.4f}, SVEB Se / +P {base.se['S']:.3f} / {base.ppv['S']:.3f}, "
             f"VEB Se / +P {base.se['V']:.3f} / {base.ppv['V']:.3f}.", "",
             "## (1) Beats read as V, by their shape's gap to the nearest normal shape and by timing", "",
             "| gap to a normal shape | pre RR / local RR | read as V | real V | real N | real S | real F | "
             "records (most) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    votes = np.zeros((len(gap), len(AAMI_CLASSES)))
    np.add.at(votes, (shape, best), 1)
    count = votes.sum(axis=1)
    normal = (votes.argmax(axis=1) == N) & (count > 0)
    normal[np.where(np.isfinite(gap), count[None, :], -1).argmax(axis=1)] = True
    near = np.where(normal[None, :], gap, np.inf).min(axis=1)[shape]
    is_v = best == V
    for lo, hi, label in ((0.0, 0.0, "0 (a normal shape)"), (0.0, 0.3, "over 0 to 0.3"), (0.3, 0.5, "0.3-0.5"),
                          (0.5, 0.75, "0.5-0.75"), (0.75, 1.0, "0.75-1"), (1.0, np.inf, "over 1")):
        in_gap = (near == 0) if hi == 0 else (near > lo) & (near <= hi)
        for a, b in ((0, 0.8), (0.8, 0.9), (0.9, np.inf)):
            m = is_v & in_gap & (rr[:, LOCAL] >= a) & (rr[:, LOCAL] < b)
            if not m.any():
                continue
            top = ", ".join(f"{r} {c}" for r, c in collections.Counter(records[m]).most_common(3))
            lines.append(f"| {label} | {a:g}-{b:g} | {m.sum()} | {(y[m] == V).sum()} | {(y[m] == N).sum()} | "
                         f"{(y[m] == S).sum()} | {(y[m] == AAMI_CLASSES.index('F')).sum()} | {top} |")
    lines += ["", "## (2) Premature beats served as N made S", "",
              "| pre RR / local under | pre RR / median under | pre RR / previous under | beats made S | real S | "
              "real N | "
              "macro-F1 | SVEB Se | SVEB +P |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    candidates = (best == N) & ~af
    for x in (0.7, 0.75, 0.8, 0.85):
        for f in (0.8, 0.9, 1.0):
            for p in (0.8, 0.9, np.inf):
                m = candidates & (rr[:, LOCAL] < x) & (rr[:, NORM] < f) & (rr[:, PREV] < p)
                pred = best.copy()
                pred[m] = S
                r = aami_report(y, pred)
                lines.append(f"| {x:g} | {f:g} | {'any' if p == np.inf else f'{p:g}'} | {m.sum()} | {(y[m] == S).sum()} | "
                             f"{(y[m] == N).sum()} | {r.macro_f1:.4f} | {r.se['S']:.3f} | {r.ppv['S']:.3f} |")
    missed = (y == S) & (best == N)
    q = np.quantile(rr[missed, LOCAL], [0.1, 0.25, 0.5, 0.75, 0.9])
    lines += ["", f"Real S served as N: {missed.sum()} (in AF: {(missed & af).sum()}); their pre RR / local RR, quantiles "
              f"10/25/50/75/90%: {' / '.join(f'{v:.2f}' for v in q)}; by record: "
              + ", ".join(f"{r} {c}" for r, c in collections.Counter(records[missed]).most_common()) + "."]
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
