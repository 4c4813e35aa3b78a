"""Cross-validated calibration and out-of-fold errors of the shipped model, from weights/hybrid_cv.npz.

Run from the project root: .venv/bin/python -m benchmarks.bench_calibration [--weights weights/hybrid] [--folds runs/hybrid/seed1]

The out-of-fold logits of every DS1 beat (train.py's cross-validation) with the shipped decision rule (AF gate,
on-time V and S gates, offsets, template consensus, far-shape step): for each fold, the temperature is fitted on the
other four folds and the held-out fold is scored (cross-fitted), so the figures are honest; prints pooled and per-fold
expected calibration error and log-loss of the served probabilities without and with the temperature. Then the rule
itself cross-fitted (the AF threshold, the on-time V and S gates, the template consensus weight, the far-shape step and
the supraventricular run rule chosen on four folds, the fifth scored), against the rule with or without the S gate
(whichever is not shipped), no run rule, no far-shape step, no consensus, no V gate and no gate at all; then per record
the S and V beats real, found and predicted out of fold, and what the gates, the consensus and the run rule changed.
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
from ecgapp.rhythm import apply_s_gate, apply_v_gate
from ecgapp.templates import far_shape_step

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
    threshold, v_gate, s_gate = float(model.af_threshold), tuple(model.v_gate.tolist()), tuple(model.s_gate.tolist())
    mix, far = float(getattr(model, "template_mix", 0.0)), float(model.far_shape)
    run_gate = tuple(model.sv_run.tolist())
    groups = train.templates_of(records, 360.0)  # each beat's template, as serving groups them
    shape, gap = train.shapes_of(records, 360.0)  # ... and its morphology group, with the groups' gaps
    shapes = (shape, gap)
    af_gated, af = train.gated(z, records, pre_rr, threshold, return_af=True)
    gated = apply_s_gate(apply_v_gate(af_gated, rr, v_gate)[0], rr, s_gate)[0]
    raw, fitted = np.zeros_like(z), np.zeros_like(z)
    source = f"`{args.folds}` (shipped rule from `{args.weights}`)" if args.folds else f"`{args.weights}`"
    command = "python -m benchmarks.bench_calibration" + (f" --folds {args.folds}" if args.folds else "")
    lines = [f"# Out-of-fold calibration, {source}", "", f"`.venv/bin/{command}`",
             "", f"Decision rule: AF gate threshold {threshold:g}; on-time V gate (early, pause, fast, sure) "
             f"{', '.join(f'{g:g}' for g in v_gate)}; on-time S gate (early, fast) {', '.join(f'{g:g}' for g in s_gate)}; logit offsets N S V F Q "
             f"{' '.join(f'{b:+.2f}' for b in bias)}; template consensus weight {mix:g}; supraventricular run rule "
             f"(fast, steady, onset) {', '.join(f'{g:g}' for g in run_gate)}; temperature on all folds "
             f"{train.rule_temperature(z, gated, y, bias, groups, mix):.3f}; far-shape step {far:g} (fitted on the served probabilities, template "
             "consensus included, without the reference S and V beats the gates gave up on)", "",
             "| fold | beats | temperature (other folds) | ECE raw | ECE calibrated | log-loss raw | log-loss calibrated |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    after_far = np.zeros_like(z)  # the temperature fitted after the far-shape step (experiments row 40, not kept)
    for k in np.unique(fold):
        held = fold == k
        t = train.rule_temperature(z[~held], gated[~held], y[~held], bias, groups[~held], mix)
        t_far = train.rule_temperature(z[~held], gated[~held], y[~held], bias, groups[~held], mix, True,
                                       (shape[~held], gap), far)
        after_far[held] = train.served(gated[held], bias, t_far, groups[held], mix, True, (shape[held], gap), far)
        raw[held] = train.served(gated[held], bias, 1.0, groups[held], mix, True, (shape[held], gap), far)
        fitted[held] = train.served(gated[held], bias, t, groups[held], mix, True, (shape[held], gap), far)
        lines.append(f"| {k} | {held.sum()} | {t:.3f} | {expected_calibration_error(raw[held], y[held]):.3f} | "
                     f"{expected_calibration_error(fitted[held], y[held]):.3f} | {nll(raw[held], y[held]):.3f} | "
                     f"{nll(fitted[held], y[held]):.3f} |")
    lines.append(f"| pooled | {len(y)} | | {expected_calibration_error(raw, y):.3f} | "
                 f"{expected_calibration_error(fitted, y):.3f} | {nll(raw, y):.3f} | {nll(fitted, y):.3f} |")
    if far > 0:
        lines.append(f"| pooled, the temperature fitted after the far-shape step (experiments row 40, not kept) | "
                     f"{len(y)} | | | {expected_calibration_error(after_far, y):.3f} | | {nll(after_far, y):.3f} |")
    # where the calibration error lies (experiments row 40): the beats the far-shape step moved, the served
    # confidence against the share right (pooled, and the record furthest apart), confidently wrong S -> V
    conf, right = fitted.max(axis=1), fitted.argmax(axis=1) == y
    moved = (fitted.argmax(axis=1) != train.served(gated, bias, 1.0, groups, mix).argmax(axis=1)) & (
        fitted.argmax(axis=1) == AAMI_CLASSES.index("V"))
    gaps = {r: conf[records == r].mean() - right[records == r].mean() for r in np.unique(records)}
    worst = min(gaps, key=gaps.get)
    s_as_v = (y == AAMI_CLASSES.index("S")) & (fitted.argmax(axis=1) == AAMI_CLASSES.index("V"))
    lines += ["", f"Where the error lies (calibrated, out of fold): {moved.sum()} beats the far-shape step made V, "
              f"{(y[moved] == AAMI_CLASSES.index('V')).mean():.1%} of them real V, served at {conf[moved].mean():.2f} "
              f"on average; all beats: mean confidence {conf.mean():.3f}, {right.mean():.1%} right; the most "
              f"underconfident record, {worst}: {conf[records == worst].mean():.2f} for {right[records == worst].mean():.1%} "
              f"right; {s_as_v.sum()} real S served as V, at {conf[s_as_v].mean():.2f} on average."]
    fit_offsets = card["train_config"].get("offsets", True)
    crossfit, af_only, no_mix = np.zeros(len(y), int), np.zeros(len(y), int), np.zeros(len(y), int)
    no_runs, no_vt, no_far = np.zeros(len(y), int), np.zeros(len(y), int), np.zeros(len(y), int)
    commonest = np.zeros(len(y), int)  # the far-shape step with the commonest shape alone as normal
    shipped_s = s_gate[0] > 0
    other_s = np.zeros(len(y), int)  # the rule with the on-time S gate when it is not shipped, without it when it is
    chosen, chosen_v, chosen_mix, chosen_run, chosen_far, chosen_s = [], [], [], [], [], []
    for k in np.unique(fold):
        held = fold == k
        th, _ = train.choose_af_threshold(z[~held], y[~held], records[~held], pre_rr[~held], fit_offsets)
        zk, afk = train.gated(z, records, pre_rr, th, return_af=True)
        af_only[held] = (zk[held] + train.class_offsets(zk[~held], y[~held], fit_offsets)).argmax(axis=1)
        vg, _ = train.choose_v_gate(zk[~held], y[~held], rr[~held], fit_offsets)
        zv = apply_v_gate(zk, rr, vg)[0]
        sg, _ = train.choose_s_gate(zv[~held], y[~held], rr[~held], fit_offsets)
        zs = apply_s_gate(zv, rr, sg)[0]
        zk, zo = (zs, zv) if shipped_s else (zv, zs)  # the rule as shipped, and the other
        bo = train.class_offsets(zo[~held], y[~held], fit_offsets)
        to = train.rule_temperature(z[~held], zo[~held], y[~held], bo)
        mo, _ = train.choose_template_mix(zo[~held], y[~held], bo, to, groups[~held])
        to = train.rule_temperature(z[~held], zo[~held], y[~held], bo, groups[~held], mo)
        fo, _ = train.choose_far_shape(lambda f: train.served(zo[~held], bo, to, groups[~held], mo, True,
                                                              (shape[~held], gap), f), y[~held])
        other_s[held] = train.served(zo[held], bo, to, groups[held], mo, True, (shape[held], gap), fo).argmax(axis=1)
        chosen_s.append("/".join(f"{g:g}" for g in sg))
        bk = train.class_offsets(zk[~held], y[~held], fit_offsets)
        no_mix[held] = (zk[held] + bk).argmax(axis=1)
        tk = train.rule_temperature(z[~held], zk[~held], y[~held], bk)
        mk, _ = train.choose_template_mix(zk[~held], y[~held], bk, tk, groups[~held])
        tk = train.rule_temperature(z[~held], zk[~held], y[~held], bk, groups[~held], mk)
        no_far[held] = train.served(zk[held], bk, tk, groups[held], mk).argmax(axis=1)
        fk, _ = train.choose_far_shape(lambda f: train.served(zk[~held], bk, tk, groups[~held], mk, True,
                                                              (shape[~held], gap), f), y[~held])
        pk = train.served(zk, bk, tk, groups, mk, True, shapes, fk)
        fa, _ = train.choose_far_shape(lambda f: far_shape_step(train.served(zk[~held], bk, tk, groups[~held], mk),
                                                                (shape[~held], gap), f, read_normal=False)[0], y[~held])
        commonest[held] = far_shape_step(train.served(zk[held], bk, tk, groups[held], mk), (shape[held], gap), fa,
                                         read_normal=False)[0].argmax(axis=1)
        t0 = train.rule_temperature(z[~held], zk[~held], y[~held], bk)  # the rule before consensus's V step
        m0, _ = train.choose_template_mix(zk[~held], y[~held], bk, t0, groups[~held], ventricular=False)
        t0 = train.rule_temperature(z[~held], zk[~held], y[~held], bk, groups[~held], m0, ventricular=False)
        no_vt[held] = train.served(zk[held], bk, t0, groups[held], m0, ventricular=False).argmax(axis=1)
        no_runs[held] = pk[held].argmax(axis=1)
        rk, _ = train.choose_sv_run(pk[~held], y[~held], rr[~held], records[~held], afk[~held])
        crossfit[held] = train.in_runs(pk[held], rr[held], records[held], afk[held], rk).argmax(axis=1)
        chosen.append(f"{th:g}")
        chosen_v.append("/".join(f"{g:g}" for g in vg))
        chosen_mix.append(f"{mk:g}")
        chosen_far.append(f"{fk:g}")
        chosen_run.append("/".join(f"{g:g}" for g in rk))
    none = (z + train.class_offsets(z, y, fit_offsets)).argmax(axis=1)
    lines += ["", "## The rule, cross-fitted (chosen on four folds, the fifth scored)", "",
              "| rule | macro-F1 (N,S,V) | SVEB Se | SVEB +P | VEB Se | VEB +P |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    shipped_runs = run_gate[0] > 0
    with_runs_row = (f"AF gate, on-time V gate, template consensus, far-shape step and supraventricular run rule "
                     f"chosen per fold ("
                     f"{'the shipped rule' if shipped_runs else 'experiments row 30, not shipped'}; AF "
                     f"{', '.join(chosen)}; V early/pause/fast/sure {', '.join(chosen_v)}; consensus weight "
                     f"{', '.join(chosen_mix)}; far shape {', '.join(chosen_far)}; run fast/steady/onset {', '.join(chosen_run)})",
                     crossfit)
    no_runs_row = (f"AF gate, on-time V gate{', on-time S gate' if shipped_s else ''}, template consensus and far-shape "
                   f"step chosen per fold (far shape {', '.join(chosen_far)}"
                   + (f"; S early/fast {', '.join(chosen_s)}" if shipped_s else "") + "), no run rule"
                   f"{'' if shipped_runs else ' (the shipped rule)'}", no_runs)
    for label, pred_ in (*((with_runs_row, no_runs_row) if shipped_runs else (no_runs_row, with_runs_row)),
                         ("the same without the on-time S gate (a beat read as S that is neither early nor fast "
                          "stays S: the rule before experiments row 43)" if shipped_s else
                          f"the same with the on-time S gate chosen per fold after the V gate (experiments row 43, not "
                          f"shipped; early/fast {', '.join(chosen_s)})", other_s),
                         ("the same, the far-shape step's normal shapes the commonest alone (not also the shapes read "
                          "mostly as N: experiments row 38's first form)", commonest),
                         ("the same without the far-shape step (a beat read as S whose shape is far from every normal "
                          "one stays S: the rule before experiments row 38)", no_far),
                         ("the same, template consensus without its last step (a beat read as S in a template "
                          "that reads V stays S: the rule before experiments row 31)", no_vt),
                         (f"AF gate and on-time V{' and S' if shipped_s else ''} gate{'s' if shipped_s else ''} chosen "
                          f"per fold, no template consensus", no_mix),
                         ("AF gate chosen per fold, no V gate", af_only), ("no gate", none)):
        r = aami_report(y, pred_)
        lines.append(f"| {label} | {r.macro_f1:.3f} | {r.se['S']:.3f} | {r.ppv['S']:.3f} | {r.se['V']:.3f} | "
                     f"{r.ppv['V']:.3f} |")
    before = (gated + bias).argmax(axis=1)  # the rule without template consensus
    t_all = train.rule_temperature(z, gated, y, bias, groups, mix)
    consensus = train.served(gated, bias, t_all, groups, mix, True, shapes, far)
    before_far = train.served(gated, bias, t_all, groups, mix).argmax(axis=1)
    before_runs = consensus.argmax(axis=1)
    pred = train.in_runs(consensus, rr, records, af, run_gate).argmax(axis=1)
    runs_gate = run_gate if shipped_runs else train.choose_sv_run(consensus, y, rr, records, af)[0]
    with_runs = train.in_runs(consensus, rr, records, af, runs_gate).argmax(axis=1)
    s, v, n = AAMI_CLASSES.index("S"), AAMI_CLASSES.index("V"), AAMI_CLASSES.index("N")
    network = z.argmax(axis=1)  # the network's own label, before any step of the rule
    no_v = (train.gated(z, records, pre_rr, threshold) + bias).argmax(axis=1)  # the same rule without the V gate
    no_s = (apply_v_gate(af_gated, rr, v_gate)[0] + bias).argmax(axis=1)  # ... and without the S gate
    lines += ["", "## Per record, out of fold (with the rule; then the real S and V beats the network itself reads as N, "
              "before any rule; the V beats the on-time V gate took, the S beats the on-time S gate took, and the beats "
              "whose label template consensus changed, and those the supraventricular run rule made S, and those the "
              "far-shape step made V (experiments row 38), to the "
              "reference's label or away from it; the run rule " + ("shipped" if shipped_runs else
              "of experiments row 30, not shipped, as chosen on all folds") + ": fast/steady/onset "
              + "/".join(f"{g:g}" for g in runs_gate) + ")", "",
              "| record | fold | S real | S found | S predicted | V real | V found | V predicted | network: real S read "
              "as N | network: real V read as N | V gate: real V lost | V gate: false V removed | S gate: real S lost | "
              "S gate: false S removed | real V read as S "
              "before consensus | consensus: labels righted | consensus: labels wronged | run rule: labels righted | "
              "run rule: labels wronged | far shape: labels righted | far shape: labels wronged |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
              "---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in [*sorted(set(records)), "all"]:
        m = records == name if name != "all" else np.ones(len(y), bool)
        took = m & (no_v == v) & (before != v)
        took_s = m & (no_s == s) & (before != s)
        changed = m & (before_far != before)
        farred = m & (before_runs != before_far)
        ran = m & (with_runs != before_runs)
        lines.append(f"| {name} | {fold[m][0] if name != 'all' else ''} | {(y[m] == s).sum()} | "
                     f"{((y[m] == s) & (pred[m] == s)).sum()} | {(pred[m] == s).sum()} | {(y[m] == v).sum()} | "
                     f"{((y[m] == v) & (pred[m] == v)).sum()} | {(pred[m] == v).sum()} | "
                     f"{(m & (y == s) & (network == n)).sum()} | {(m & (y == v) & (network == n)).sum()} | "
                     f"{(took & (y == v)).sum()} | {(took & (y != v)).sum()} | {(took_s & (y == s)).sum()} | "
                     f"{(took_s & (y != s)).sum()} | {(m & (y == v) & (before == s)).sum()} | "
                     f"{(changed & (before_runs == y)).sum()} | {(changed & (before == y)).sum()} | "
                     f"{(ran & (with_runs == y)).sum()} | {(ran & (before_runs == y)).sum()} | "
                     f"{(farred & (before_runs == y)).sum()} | {(farred & (before_far == y)).sum()} |")
    text = "\n".join(lines) + "\n"
    out = RESULTS if not args.folds else RESULTS.with_name(f"calibration_{args.folds.parent.name}_{args.folds.name}.md")
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
