"""Cross-validated calibration and out-of-fold errors of the shipped model, from weights/hybrid_cv.npz.

Run from the project root: .venv/bin/python -m benchmarks.bench_calibration [--weights weights/hybrid]

The out-of-fold logits of every DS1 beat (train.py's cross-validation) with the shipped decision rule (AF gate,
offsets): for each fold, the temperature is fitted on the other four folds and the held-out fold is scored
(cross-fitted), so the figures are honest; prints pooled and per-fold expected calibration error and log-loss
without and with the temperature. Then the rule itself cross-fitted (the AF threshold chosen on four folds, the
fifth scored), against no gate; then per record the S and V beats real, found and predicted out of fold.
Writes benchmarks/results/calibration.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import train
from ecgapp.aami import AAMI_CLASSES
from ecgapp.calibration import apply, expected_calibration_error
from ecgapp.metrics import aami_report
from ecgapp.model import load_model

RESULTS = Path("benchmarks/results/calibration.md")


def nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    args = parser.parse_args()
    oof = np.load(f"{args.weights}_cv.npz")
    z, y, fold, records, pre_rr = oof["logits"], oof["labels"], oof["fold"], oof["records"], oof["pre_rr"]
    model, card = load_model(args.weights, device="cpu")
    bias = model.logit_bias.numpy()
    threshold = float(model.af_threshold)
    gated = train.gated(z, records, pre_rr, threshold)
    raw, fitted = np.zeros_like(z), np.zeros_like(z)
    lines = [f"# Out-of-fold calibration, `{args.weights}`", "", "`.venv/bin/python -m benchmarks.bench_calibration`",
             "", f"Decision rule: AF gate threshold {threshold:g}; logit offsets N S V F Q "
             f"{' '.join(f'{b:+.2f}' for b in bias)}; temperature on all folds {train.rule_temperature(z, gated, y, bias):.3f} "
             "(fitted on the gated logits without the reference S beats the gate gave up on)", "",
             "| fold | beats | temperature (other folds) | ECE raw | ECE calibrated | log-loss raw | log-loss calibrated |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k in np.unique(fold):
        held = fold == k
        t = train.rule_temperature(z[~held], gated[~held], y[~held], bias)
        raw[held], fitted[held] = apply(gated[held], bias, 1.0), apply(gated[held], bias, t)
        lines.append(f"| {k} | {held.sum()} | {t:.3f} | {expected_calibration_error(raw[held], y[held]):.3f} | "
                     f"{expected_calibration_error(fitted[held], y[held]):.3f} | {nll(raw[held], y[held]):.3f} | "
                     f"{nll(fitted[held], y[held]):.3f} |")
    lines.append(f"| pooled | {len(y)} | | {expected_calibration_error(raw, y):.3f} | "
                 f"{expected_calibration_error(fitted, y):.3f} | {nll(raw, y):.3f} | {nll(fitted, y):.3f} |")
    fit_offsets = card["train_config"].get("offsets", True)
    crossfit = np.zeros(len(y), int)
    chosen = []
    for k in np.unique(fold):
        held = fold == k
        th, _ = train.choose_af_threshold(z[~held], y[~held], records[~held], pre_rr[~held], fit_offsets)
        zk = train.gated(z, records, pre_rr, th)
        crossfit[held] = (zk[held] + train.class_offsets(zk[~held], y[~held], fit_offsets)).argmax(axis=1)
        chosen.append(f"{th:g}")
    none = (z + train.class_offsets(z, y, fit_offsets)).argmax(axis=1)
    lines += ["", "## The rule, cross-fitted (chosen on four folds, the fifth scored)", "",
              "| rule | macro-F1 (N,S,V) | SVEB Se | SVEB +P | VEB Se | VEB +P |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, pred_ in ((f"AF gate, threshold chosen per fold ({', '.join(chosen)})", crossfit),
                         ("no AF gate", none)):
        r = aami_report(y, pred_)
        lines.append(f"| {label} | {r.macro_f1:.3f} | {r.se['S']:.3f} | {r.ppv['S']:.3f} | {r.se['V']:.3f} | "
                     f"{r.ppv['V']:.3f} |")
    pred = (gated + bias).argmax(axis=1)
    s, v = AAMI_CLASSES.index("S"), AAMI_CLASSES.index("V")
    lines += ["", "## Per record, out of fold (with the rule)", "",
              "| record | fold | S real | S found | S predicted | V real | V found | V predicted |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in sorted(set(records)):
        m = records == name
        lines.append(f"| {name} | {fold[m][0]} | {(y[m] == s).sum()} | {((y[m] == s) & (pred[m] == s)).sum()} | "
                     f"{(pred[m] == s).sum()} | {(y[m] == v).sum()} | {((y[m] == v) & (pred[m] == v)).sum()} | "
                     f"{(pred[m] == v).sum()} |")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
