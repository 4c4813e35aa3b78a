"""Cross-validated calibration and out-of-fold errors of the shipped model, from weights/hybrid_cv.npz.

Run from the project root: .venv/bin/python -m benchmarks.bench_calibration [--weights weights/hybrid]

The out-of-fold logits of every DS1 beat (train.py's cross-validation) with the shipped decision rule: for each
fold, the temperature is fitted on the other four folds and the held-out fold is scored (cross-fitted), so the
figures are honest; prints pooled and per-fold expected calibration error and log-loss without and with the
temperature, then per record the S and V beats real, found and predicted out of fold. Writes
benchmarks/results/calibration.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ecgapp.aami import AAMI_CLASSES
from ecgapp.calibration import apply, expected_calibration_error, fit_logit_bias, fit_temperature

RESULTS = Path("benchmarks/results/calibration.md")


def nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    args = parser.parse_args()
    oof = np.load(f"{args.weights}_cv.npz")
    z, y, fold, records = oof["logits"], oof["labels"], oof["fold"], oof["records"]
    bias = fit_logit_bias(z, y)
    raw, fitted = np.zeros_like(z), np.zeros_like(z)
    lines = [f"# Out-of-fold calibration, `{args.weights}`", "", "`.venv/bin/python -m benchmarks.bench_calibration`",
             "", f"Decision rule (logit offsets N S V F Q): {' '.join(f'{b:+.2f}' for b in bias)}; temperature on all "
             f"folds {fit_temperature(z + bias, y):.3f}", "",
             "| fold | beats | temperature (other folds) | ECE raw | ECE calibrated | log-loss raw | log-loss calibrated |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k in np.unique(fold):
        held = fold == k
        t = fit_temperature(z[~held] + bias, y[~held])
        raw[held], fitted[held] = apply(z[held], bias, 1.0), apply(z[held], bias, t)
        lines.append(f"| {k} | {held.sum()} | {t:.3f} | {expected_calibration_error(raw[held], y[held]):.3f} | "
                     f"{expected_calibration_error(fitted[held], y[held]):.3f} | {nll(raw[held], y[held]):.3f} | "
                     f"{nll(fitted[held], y[held]):.3f} |")
    lines.append(f"| pooled | {len(y)} | | {expected_calibration_error(raw, y):.3f} | "
                 f"{expected_calibration_error(fitted, y):.3f} | {nll(raw, y):.3f} | {nll(fitted, y):.3f} |")
    pred = (z + bias).argmax(axis=1)
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
