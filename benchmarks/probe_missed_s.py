"""Probe (issue 10, experiments row 49): where the S beats lie that one label per template misses on DS1, out of fold.

Run from the project root: .venv/bin/python -m benchmarks.probe_missed_s [--folds runs/hybrid/seed0]

Each DS1 record is read by the cross-validation fold network that never saw it, with the shipped rule
(``bench_adapt.fold_models``); its templates are the app's (split by that network's labels); a reader labels each
template's representative from the reference and the template takes it (``bench_adapt``'s protocol (a)). Counts the S
beats this misses, how many sit in on-time templates, and how many the network itself reads as S inside templates the
reader labels N; then scores the rule "a template labelled N leaves the network's S beats S", plain and with the
network's S probability or the beat's prematurity required. Writes benchmarks/results/missed_s_probe.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_adapt import fold_models
from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import extract_beats
from ecgapp.features import beat_inputs
from ecgapp.inference import predict_logits
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS1, load_record
from ecgapp.templates import _PRE_RR_LOCAL, TIMINGS, beat_templates

RESULTS = Path("benchmarks/results/missed_s_probe.md")
S = AAMI_CLASSES.index("S")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=Path, default=Path("runs/hybrid/seed0"))
    parser.add_argument("--weights", default="weights/hybrid")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = fold_models(args.folds, args.weights)
    y_all, given_all, net_all, p_all, early_all = [], [], [], [], []
    missed = on_time = read_s = 0
    for name in DS1:
        beats = extract_beats(load_record(name), lead=0)
        waves, rr = beat_inputs(beats)
        y = beats.label
        logits = predict_logits(models[name], waves, rr)
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        net = prob.argmax(axis=1)
        t = beat_templates(waves, rr, labels=np.asarray(AAMI_CLASSES)[net])
        rep = t.representative[y[t.representative] >= 0]
        label = np.full(len(t), -1)
        label[t.assignment[rep]] = y[rep]
        given = label[t.assignment]
        rest = y >= 0
        rest[rep] = False
        miss = rest & (y == S) & (given != S)
        missed += int(miss.sum())
        on_time += int((miss & (t.timing[t.assignment] == TIMINGS.index("on time"))).sum())
        read_s += int((miss & (given == 0) & (net == S)).sum())
        for out, value in ((y_all, y), (given_all, given), (net_all, net), (p_all, prob[:, S]),
                           (early_all, rr[:, _PRE_RR_LOCAL])):
            out.append(value[rest])
    y, given, net, p_s, pre = (np.concatenate(v) for v in (y_all, given_all, net_all, p_all, early_all))
    candidates = (given == 0) & (net == S)
    base = aami_report(y, given)
    lines = [f"# S beats one label per template misses on DS1, out of fold (`{args.folds}`)", "",
             "`.venv/bin/python -m benchmarks.probe_missed_s" + ("" if args.folds == Path("runs/hybrid/seed0")
                                                                 else f" --folds {args.folds}") + "`", "",
             f"- S beats missed (not the representatives): {missed}; in on-time templates: {on_time}; read S by the "
             f"network inside a template the reader labels N: {read_s}.",
             f"- Beats the network reads S inside templates labelled N: {int(candidates.sum())}, of them real S "
             f"{int((candidates & (y == S)).sum())}.", "",
             "| an N template leaves the network's S beats S when | beats moved | real S | SVEB Se | SVEB +P | SVEB F1 "
             "| macro-F1 |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
             f"| never (the app) | 0 | 0 | {base.se['S']:.3f} | {base.ppv['S']:.3f} | {base.f1['S']:.3f} | "
             f"{base.macro_f1:.3f} |"]
    for p_min in (0.0, 0.5, 0.7, 0.9):
        for pre_max in (np.inf, 1.0, 0.95, 0.9):
            moved = candidates & (p_s >= p_min) & (pre < pre_max)
            pred = np.where(moved, S, given)
            r = aami_report(y, pred)
            when = "always (row 49)" if p_min == 0 and pre_max == np.inf else " and ".join(
                part for part in (f"p(S) >= {p_min:g}" if p_min else "",
                                  f"pre RR < {pre_max:g} x local" if np.isfinite(pre_max) else "") if part)
            lines.append(f"| {when} | {int(moved.sum())} | {int((moved & (y == S)).sum())} | {r.se['S']:.3f} | "
                         f"{r.ppv['S']:.3f} | {r.f1['S']:.3f} | {r.macro_f1:.3f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
