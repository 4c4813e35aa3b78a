"""Cross-validated calibration and out-of-fold errors of the shipped model, from weights/hybrid_cv.npz.

Run from the project root: .venv/bin/python -m benchmarks.bench_calibration [--weights weights/hybrid] [--folds runs/hybrid/seed1]

The out-of-fold logits of every DS1 beat (train.py's cross-validation) with the shipped decision rule (AF gate,
on-time V gate, offsets, template consensus): for each fold, the temperature is fitted on the other four folds and the
held-out fold is scored (cross-fitted), so the figures are honest; prints pooled and per-fold expected calibration error
and log-loss of the served probabilities without and with the temperature. Then the rule itself cross-fitted (the AF
threshold, the on-time V gate and the template consensus weight chosen on four folds, the fifth scored), against no
consensus, no V gate and no gate at all; then per record the S and V beats real, found and predicted out of fold, and
what the V gate and the consensus changed.
Writes benchmarks/results/calibration.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import train
from ecgapp.aami import AAMI_CLASSES
from ecgapp.calibration import expected_calibration_error
from ecgapp.metrics import aami_report
from ecgapp.model import load_model
from ecgapp.rhythm import apply_v_gate

RESULTS = Path("benchmarks/results/calibration.md")


def nll(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    parser.add_argument("--folds", type=Path, default=None,
                        help="read another run's out-of-fold logits from its fold caches (e.g. runs/hybrid/seed1) "
                             "instead of <weights>_cv.npz; the calibration uses the shipped rule, the cross-fitted "
                             "rule is chosen afresh; writes benchmarks/results/calibration_<run>.md")
    args = parser.parse_args()
    if args.folds:
        parts = [np.load(f) for f in sorted(args.folds.glob("fold[0-9].npz"))]
        records = np.concatenate([p["records_360"] for p in parts])
        oof = {"logits": np.concatenate([p["logits_360"] for p in parts]),
               "labels": np.concatenate([p["labels_360"] for p in parts]), "records": records,
               "fold": np.concatenate([np.full(len(p["labels_360"]), f) for f, p in enumerate(parts)]),
               "rr": (np.concatenate([p["rr_360"] for p in parts]) if all("rr_360" in p for p in parts)
                      else train.rr_of(records, 360.0))}
    else:
        oof = np.load(f"{args.weights}_cv.npz")
    z, y, fold, records, rr = oof["logits"], oof["labels"], oof["fold"], oof["records"], oof["rr"]
    pre_rr = rr[:, 0]
    model, card = load_model(args.weights, device="cpu")
    bias = model.logit_bias.numpy()
    threshold, v_gate = float(model.af_threshold), tuple(model.v_gate.tolist())
    mix = float(getattr(model, "template_mix", 0.0))
    groups = train.templates_of(records, 360.0)  # each beat's template, as serving groups them
    gated = apply_v_gate(train.gated(z, records, pre_rr, threshold), rr, v_gate)[0]
    raw, fitted = np.zeros_like(z), np.zeros_like(z)
    source = f"`{args.folds}` (shipped rule from `{args.weights}`)" if args.folds else f"`{args.weights}`"
    command = "python -m benchmarks.bench_calibration" + (f" --folds {args.folds}" if args.folds else "")
    lines = [f"# Out-of-fold calibration, {source}", "", f"`.venv/bin/{command}`",
             "", f"Decision rule: AF gate threshold {threshold:g}; on-time V gate (early, pause, fast, sure) "
             f"{', '.join(f'{g:g}' for g in v_gate)}; logit offsets N S V F Q "
             f"{' '.join(f'{b:+.2f}' for b in bias)}; template consensus weight {mix:g}; temperature on all folds "
             f"{train.rule_temperature(z, gated, y, bias, groups, mix):.3f} (fitted on the served probabilities, template "
             "consensus included, without the reference S and V beats the gates gave up on)", "",
             "| fold | beats | temperature (other folds) | ECE raw | ECE calibrated | log-loss raw | log-loss calibrated |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k in np.unique(fold):
        held = fold == k
        t = train.rule_temperature(z[~held], gated[~held], y[~held], bias, groups[~held], mix)
        raw[held] = train.served(gated[held], bias, 1.0, groups[held], mix)
        fitted[held] = train.served(gated[held], bias, t, groups[held], mix)
        lines.append(f"| {k} | {held.sum()} | {t:.3f} | {expected_calibration_error(raw[held], y[held]):.3f} | "
                     f"{expected_calibration_error(fitted[held], y[held]):.3f} | {nll(raw[held], y[held]):.3f} | "
                     f"{nll(fitted[held], y[held]):.3f} |")
    lines.append(f"| pooled | {len(y)} | | {expected_calibration_error(raw, y):.3f} | "
                 f"{expected_calibration_error(fitted, y):.3f} | {nll(raw, y):.3f} | {nll(fitted, y):.3f} |")
    fit_offsets = card["train_config"].get("offsets", True)
    crossfit, af_only, no_mix = np.zeros(len(y), int), np.zeros(len(y), int), np.zeros(len(y), int)
    chosen, chosen_v, chosen_mix = [], [], []
    for k in np.unique(fold):
        held = fold == k
        th, _ = train.choose_af_threshold(z[~held], y[~held], records[~held], pre_rr[~held], fit_offsets)
        zk = train.gated(z, records, pre_rr, th)
        af_only[held] = (zk[held] + train.class_offsets(zk[~held], y[~held], fit_offsets)).argmax(axis=1)
        vg, _ = train.choose_v_gate(zk[~held], y[~held], rr[~held], fit_offsets)
        zk = apply_v_gate(zk, rr, vg)[0]
        bk = train.class_offsets(zk[~held], y[~held], fit_offsets)
        no_mix[held] = (zk[held] + bk).argmax(axis=1)
        tk = train.rule_temperature(z[~held], zk[~held], y[~held], bk)
        mk, _ = train.choose_template_mix(zk[~held], y[~held], bk, tk, groups[~held])
        tk = train.rule_temperature(z[~held], zk[~held], y[~held], bk, groups[~held], mk)
        crossfit[held] = train.served(zk[held], bk, tk, groups[held], mk).argmax(axis=1)
        chosen.append(f"{th:g}")
        chosen_v.append("/".join(f"{g:g}" for g in vg))
        chosen_mix.append(f"{mk:g}")
    none = (z + train.class_offsets(z, y, fit_offsets)).argmax(axis=1)
    lines += ["", "## The rule, cross-fitted (chosen on four folds, the fifth scored)", "",
              "| rule | macro-F1 (N,S,V) | SVEB Se | SVEB +P | VEB Se | VEB +P |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, pred_ in ((f"AF gate, on-time V gate and template consensus chosen per fold (AF {', '.join(chosen)}; V "
                          f"early/pause/fast/sure {', '.join(chosen_v)}; consensus weight {', '.join(chosen_mix)})",
                          crossfit),
                         ("AF gate and on-time V gate chosen per fold, no template consensus", no_mix),
                         (f"AF gate chosen per fold, no V gate", af_only), ("no gate", none)):
        r = aami_report(y, pred_)
        lines.append(f"| {label} | {r.macro_f1:.3f} | {r.se['S']:.3f} | {r.ppv['S']:.3f} | {r.se['V']:.3f} | "
                     f"{r.ppv['V']:.3f} |")
    before = (gated + bias).argmax(axis=1)  # the rule without template consensus
    pred = train.served(gated, bias, train.rule_temperature(z, gated, y, bias, groups, mix), groups, mix).argmax(axis=1)
    s, v = AAMI_CLASSES.index("S"), AAMI_CLASSES.index("V")
    no_v = (train.gated(z, records, pre_rr, threshold) + bias).argmax(axis=1)  # the same rule without the V gate
    lines += ["", "## Per record, out of fold (with the rule; then the V beats the on-time V gate took, and the beats "
              "whose label template consensus changed, to the reference's label or away from it)", "",
              "| record | fold | S real | S found | S predicted | V real | V found | V predicted | V gate: real V "
              "lost | V gate: false V removed | consensus: labels righted | consensus: labels wronged |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in [*sorted(set(records)), "all"]:
        m = records == name if name != "all" else np.ones(len(y), bool)
        took = m & (no_v == v) & (before != v)
        changed = m & (pred != before)
        lines.append(f"| {name} | {fold[m][0] if name != 'all' else ''} | {(y[m] == s).sum()} | "
                     f"{((y[m] == s) & (pred[m] == s)).sum()} | {(pred[m] == s).sum()} | {(y[m] == v).sum()} | "
                     f"{((y[m] == v) & (pred[m] == v)).sum()} | {(pred[m] == v).sum()} | {(took & (y == v)).sum()} | "
                     f"{(took & (y != v)).sum()} | {(changed & (pred == y)).sum()} | {(changed & (before == y)).sum()} |")
    text = "\n".join(lines) + "\n"
    out = RESULTS if not args.folds else RESULTS.with_name(f"calibration_{args.folds.parent.name}_{args.folds.name}.md")
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
