"""Probe (issue 10, not adopted): templates with a fourth timing, "late" (the beat after a pause), for the reader
who labels one beat per template.

Run from the project root: .venv/bin/python -m benchmarks.probe_late_timing [--weights weights/hybrid]

A beat that is neither early nor fast and whose pre RR is above LATE x the local RR gets its own timing, so its
template is kept apart from the on-time beats of the same shape (232's normal beats all follow pauses; its S beats
are on time). The grouping of ``templates.beat_templates`` is otherwise the app's (split by the network's labels);
the reader labels each template's representative beat from the reference and the template takes it, scored on the
other beats, as ``bench_adapt``'s protocol (a). DS1 uses the out-of-fold labels of ``<weights>_cv.npz`` (the
shipped rule, cross-validation's networks); DS2 the shipped model. Writes benchmarks/results/late_timing.txt.
The extra timing is patched in here (``templates.timing``), not in the library: the app does not use it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import train
from ecgapp import templates as T
from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import extract_beats
from ecgapp.features import beat_inputs
from ecgapp.inference import predict_logits
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS2
from ecgapp.model import load_model
from ecgapp.rhythm import apply_v_gate

LATE = (None, 1.15, 1.25, 1.4)  # pre RR over local RR above this: late (None: the app's three timings)
RESULTS = Path("benchmarks/results/late_timing.txt")
PLAIN_TIMING = T.timing  # the library's, whatever this module has patched in since


def with_late(late):
    """``templates.timing`` with code 4 (late) for on-time beats whose pre RR is above ``late`` x the local RR."""
    def timing(rr, early_rr=T.EARLY_RR, fast_rr=T.FAST_RR):
        code = PLAIN_TIMING(rr, early_rr, fast_rr)
        return np.where((code == 0) & (np.asarray(rr, np.float32)[:, T._PRE_RR_LOCAL] > late), 4, code)
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    args = parser.parse_args()
    model, _ = load_model(args.weights, device="cpu")
    oof = np.load(f"{args.weights}_cv.npz")
    z, records, rr = oof["logits"], oof["records"], oof["rr"]
    groups = train.templates_of(records, 360.0)
    gated = apply_v_gate(train.gated(z, records, rr[:, 0], float(model.af_threshold)), rr, model.v_gate.tolist())[0]
    oof_labels = train.served(gated, model.logit_bias.numpy(), float(model.temperature), groups,
                              float(model.template_mix)).argmax(axis=1)
    inputs, network = {}, {}
    for name in sorted(set(records)) + list(DS2):
        beats = extract_beats(train.record_at(name, 360.0), lead=0)
        inputs[name] = (*beat_inputs(beats), beats.label)
        network[name] = (oof_labels[records == name] if name in set(records)
                         else predict_logits(model, *inputs[name][:2]).argmax(axis=1))
    plain_timing, plain_names = T.timing, T.TIMINGS
    lines = ["late  set  labels  SVEB Se  SVEB +P  SVEB F1  VEB Se  VEB +P  VEB F1"]
    try:
        for late in LATE:
            T.timing, T.TIMINGS = (plain_timing, plain_names) if late is None else (with_late(late), plain_names + ("late",))
            for part, names in (("DS1", sorted(set(records))), ("DS2", list(DS2))):
                truth, pred, used = [], [], 0
                for name in names:
                    waves, rr_, y = inputs[name]
                    found = T.beat_templates(waves, rr_, labels=np.asarray(AAMI_CLASSES)[network[name]])
                    rep = found.representative[y[found.representative] >= 0]
                    label = np.full(len(found), -1)
                    label[found.assignment[rep]] = y[rep]
                    rest = y >= 0
                    rest[rep] = False
                    truth.append(y[rest])
                    pred.append(label[found.assignment][rest])
                    used += rep.size
                r = aami_report(np.concatenate(truth), np.concatenate(pred))
                f1 = {c: 2 * r.se[c] * r.ppv[c] / (r.se[c] + r.ppv[c]) for c in ("S", "V")}
                lines.append(f"{'off' if late is None else late:>4}  {part}  {used:6d}  {r.se['S']:.3f}    "
                             f"{r.ppv['S']:.3f}    {f1['S']:.3f}    {r.se['V']:.3f}   {r.ppv['V']:.3f}   {f1['V']:.3f}")
    finally:
        T.timing, T.TIMINGS = plain_timing, plain_names
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
