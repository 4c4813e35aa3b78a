"""A simulated reader on DS2: what templates and patient adaptation buy over the shipped model (issue 10).

Run from the project root: .venv/bin/python -m benchmarks.bench_adapt [--weights weights/hybrid] [--records ...]

For every DS2 record (reference beat locations, lead MLII, the app's path: ``extract_beats`` ->
``features.beat_inputs`` -> ``templates.beat_templates`` / ``adapt.adapt_model``), a reader who answers from the
reference annotations labels
  (a) one beat per template (the member closest to the template's median; the app's templates, split where the
      shipped network's labels differ inside one: ``review.record_templates``), and
  (b) every beat of the first 5 minutes (the patient-adaptive protocol of the literature: de Chazal & Reilly
      2006, Hu et al. 1997, Kiranyaz et al. 2016).
Each protocol is scored on the beats the reader did not label ((a): all others; (b): after 300 s), beside the
shipped model on the same beats. Rows: the shipped model; (a) the template's label given to all its members
(relabel a template, no network); (a) the network adapted to the labelled beats; (b) the network adapted;
(b) each template's labelled beats label its other beats (``adapt.propagate_by_template``) and the adapted
network the beats of templates without labels, the network trained on the reader's labels or on those and
the templates' labels; (a) with templates not split by the network's labels (and, with ``--split SHARE:BEATS``,
split at other settings).
Writes benchmarks/results/adapt.md (and prints it).

The adaptation's settings are chosen on DS1, never on DS2: ``--ds1 runs/hybrid/seed0`` runs the same protocols
on every DS1 record with the cross-validation fold's network that never saw that record (train.py writes
``fold<f>.pt``), and appends a section per setting to benchmarks/results/adapt_ds1.md; several directories
(``--ds1 runs/hybrid/seed0 ... runs/hybrid/seed4``: the fold networks of several seeds) add a table of the main
rows per set of fold networks, since a DS1 difference of 0.01 can turn with the networks that read it (experiments
rows 48b, 49b).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import train
from ecgapp.adapt import (ADAPT_LR, ADAPT_PARTS, ADAPT_STEPS, KEEP_NETWORK_S, KEEP_WEIGHT, adapt_model, keeps_network_s,
                          propagate_by_template)
from ecgapp.beats import extract_beats
from ecgapp.features import beat_inputs
from ecgapp.inference import predict_logits
from ecgapp.metrics import aami_report, confusion_matrix, report_from_matrix
from ecgapp.mitdb import DS1, DS2, load_record
from ecgapp.model import load_model
from ecgapp.aami import AAMI_CLASSES
from ecgapp.templates import beat_templates

OVERRIDES: list[float] = []  # --override: extra rows, the template's label unless the network is this sure
SPLITS: list[tuple[float, int] | None] = [None]  # extra (a) rows: templates not split (None), or split at --split
RESULTS = Path("benchmarks/results/adapt.md")
RESULTS_DS1 = Path("benchmarks/results/adapt_ds1.md")  # one section per setting tried (appended)
FIRST_S = 300.0  # (b): the reader labels the first 5 minutes
ROWS = {
    "a_shipped": "(a) shipped model, 0 labels, on the beats (a) leaves unlabelled",
    "a_template": "(a) one label per template, given to every member (template relabel, no network)",
    "a_keep_s": "(a) the same, but a member the network reads as S keeps S where the template is labelled N "
                "(experiments row 49: the app's box, off by default)",
    "a_adapted": "(a) one label per template, network adapted to them",
    "a_unsplit": "(a) one label per template, given to every member, templates not split by the network's labels",
    "b_shipped": "(b) shipped model, 0 labels, on the beats after 5 minutes",
    "b_adapted": "(b) every beat of the first 5 minutes labelled, network adapted (network alone)",
    "b_vote": "(b) the same, each template's labelled beats label its other beats; the network the rest",
    "b_vote_trained": "(b) the same, the network trained on the reader's and the templates' labels",
    "b_vote_shipped": "(b) the same template labels, the shipped network (not adapted) the rest",
    "b_vote_frozen": "(b) the app's adapt, but a beat the shipped model or the adapted network puts in a class the "
                     "reader labelled nowhere keeps the shipped label",
}


# every buffer of the decision rule (model.BeatClassifier): until this list, the fold networks lacked the on-time S
# gate and the far-shape step, so the DS1 comparison below ran without two of the shipped rule's steps
RULE_BUFFERS = ("logit_bias", "temperature", "af_threshold", "v_gate", "s_gate", "template_mix", "sv_run", "far_shape")


def with_network_s(given: np.ndarray, network: np.ndarray) -> np.ndarray:
    """Template labels ``given`` (class indices, -1 = none) where a beat of a template labelled N that the network
    reads as S keeps S (``adapt.keeps_network_s``: experiments row 49, the app's box)."""
    out = given.copy()
    out[keeps_network_s(given, network)] = AAMI_CLASSES.index("S")
    return out


def split_key(split: tuple[float, int] | None) -> str:
    return "a_unsplit" if split is None else f"a_split_{split[0]:g}_{split[1]}"


def fold_models(folds: Path, weights: str) -> dict[str, torch.nn.Module]:
    """DS1 record -> the cross-validation fold's network that never saw it (``<folds>/fold<f>.pt``, written by
    train.py), with the shipped model's config, decision rule (``RULE_BUFFERS``: offsets, temperature, AF gate, on-time V
    and S gates, template consensus, run rule, far-shape step)."""
    shipped, card = load_model(weights, "cpu")
    out = {}
    for model, held_out in train.fold_networks(folds, card["config"]):
        for rule in RULE_BUFFERS:  # the shipped rule (the fold state dicts hold it off: it is chosen after them)
            getattr(model, rule).copy_(getattr(shipped, rule))
        out |= {name: model for name in held_out}
    return out


def run(models, names, keep_absent: bool = False, absent_min_prob: float = 0.0, keep_network_s: bool = KEEP_NETWORK_S,
        **settings) -> tuple[dict, list, dict]:
    """``models``: record name -> network; ``settings``: passed to ``adapt.adapt_model``; ``keep_absent``: each
    adaptation is also given the shipped model's labels (``served``: classes the reader labelled nowhere stay), only
    those it gives at least ``absent_min_prob`` (experiments row 47); ``keep_network_s``: in (b), a template's N does
    not reach the beats the network reads as S (row 49)."""
    torch.manual_seed(0)
    pooled = {k: ([], []) for k in ROWS}
    labels_used = {"a": 0, "b": 0} | {split_key(sp): 0 for sp in SPLITS}
    per_record, seconds = [], []
    for name in names:
        model = models[name]
        beats = extract_beats(load_record(name), lead=0)
        waves, rr = beat_inputs(beats)
        y = beats.label
        known = y >= 0
        logits, af = predict_logits(model, waves, rr, return_af=True)
        shipped = logits.argmax(axis=1)
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        sure = (prob / prob.sum(axis=1, keepdims=True)).max(axis=1) >= absent_min_prob
        served = np.where(sure, shipped, -1) if keep_absent else None  # -1: not trained on
        t0 = time.perf_counter()
        network = np.asarray(AAMI_CLASSES)[shipped]  # the app's templates: split where the network's labels differ
        templates = beat_templates(waves, rr, labels=network)
        t_templates = time.perf_counter() - t0
        rep = templates.representative
        rep = rep[known[rep]]
        rest_a = known.copy()
        rest_a[rep] = False
        template_label = np.full(len(templates), -1)
        template_label[templates.assignment[rep]] = y[rep]
        propagated = template_label[templates.assignment]
        kept_s = with_network_s(propagated, shipped)
        t0 = time.perf_counter()
        logits_a = predict_logits(adapt_model(model, waves, rr, rep, y[rep], af=af, served=served, **settings),
                                  waves, rr)
        adapted_a = logits_a.argmax(axis=1)
        seconds.append(time.perf_counter() - t0)
        first = np.flatnonzero(known & (beats.time_s < FIRST_S))
        rest_b = known & (beats.time_s >= FIRST_S)
        logits_b = predict_logits(adapt_model(model, waves, rr, first, y[first], af=af, served=served, **settings),
                                  waves, rr)
        adapted_b = logits_b.argmax(axis=1)
        voted, vote = propagate_by_template(templates.assignment, first, y[first],
                                            network=shipped if keep_network_s else None)
        vote_b = adapted_b.copy()
        vote_b[voted] = vote
        vote_shipped = shipped.copy()
        vote_shipped[voted] = vote
        both = np.concatenate([first, voted])
        trained = predict_logits(adapt_model(model, waves, rr, both, np.concatenate([y[first], vote]), af=af,
                                             served=served, **settings), waves, rr).argmax(axis=1)
        trained[voted] = vote
        absent = ~np.isin(np.arange(len(AAMI_CLASSES)), y[first])  # classes the reader labelled nowhere
        frozen = np.where(absent[shipped] | absent[trained], shipped, trained)
        frozen[voted] = vote  # a template holding the reader's labels takes theirs
        overridden = {}
        for sp in SPLITS:  # other templates: not split, or split at other settings; the reader labels each
            # template's representative, and its label goes to every member
            split = (beat_templates(waves, rr) if sp is None else
                     beat_templates(waves, rr, labels=network, split_share=sp[0], split_beats=sp[1]))
            rep_s = split.representative[known[split.representative]]
            label_s = np.full(len(split), -1)
            label_s[split.assignment[rep_s]] = y[rep_s]
            rest_s = known.copy()
            rest_s[rep_s] = False
            key = split_key(sp)
            overridden[key] = (rest_s, label_s[split.assignment])
            labels_used[key] += rep_s.size
        for p in OVERRIDES:  # the template's label, unless the network adapted to the reader's labels alone is
            # at least p sure of another class
            for key, base, logit in (("a", propagated, logits_a), ("b", trained, logits_b)):
                prob = np.exp(logit - logit.max(axis=1, keepdims=True))
                prob /= prob.sum(axis=1, keepdims=True)
                pred = base.copy()
                take = (prob.max(axis=1) >= p) & (prob.argmax(axis=1) != base)
                pred[take] = prob.argmax(axis=1)[take]
                overridden[f"{key}_override_{p:g}"] = (rest_a if key == "a" else rest_b, pred)
        labels_used["a"] += rep.size
        labels_used["b"] += first.size
        row = {"record": name, "beats": int(known.sum()), "templates": len(templates),
               "template_s": round(t_templates, 3)}
        for key, mask, pred in (("a_shipped", rest_a, shipped), ("a_template", rest_a, propagated),
                                ("a_keep_s", rest_a, kept_s),
                                ("a_adapted", rest_a, adapted_a), ("b_shipped", rest_b, shipped),
                                ("b_adapted", rest_b, adapted_b), ("b_vote", rest_b, vote_b),
                                ("b_vote_trained", rest_b, trained), ("b_vote_shipped", rest_b, vote_shipped),
                                ("b_vote_frozen", rest_b, frozen),
                                *((k, *v) for k, v in overridden.items())):
            pooled[key][0].append(y[mask])
            pooled[key][1].append(pred[mask])
            for cls, k in (("S", 1), ("V", 2)):
                row[f"{key}_{cls}"] = (int(((y == k) & mask).sum()), int(((y == k) & (pred == k) & mask).sum()),
                                       int(((pred == k) & mask).sum()))
        per_record.append(row)
        print(name, len(templates), "templates", flush=True)
    reports = {k: aami_report(np.concatenate(t), np.concatenate(p)) for k, (t, p) in pooled.items()}
    return reports, per_record, {"labels": labels_used, "adapt_s_median": float(np.median(seconds)),
                                 "adapt_s_max": float(np.max(seconds)),
                                 "bootstrap": {pair: patient_bootstrap(pooled, *pair) for pair in BOOTSTRAP_PAIRS}}


BOOTSTRAP_PAIRS = (("a_template", "a_keep_s"), ("a_shipped", "a_template"), ("b_vote_shipped", "b_vote_trained"))
BOOTSTRAP_DRAWS = 2000


def patient_bootstrap(pooled: dict, before: str, after: str, draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> dict:
    """How far the difference between two rows of one protocol (``after`` - ``before``: SVEB F1, VEB F1, macro-F1)
    rests on which patients were in the set: the records are drawn with replacement ``draws`` times and each draw's
    summed confusion matrices scored. Returns {statistic: (difference on the set, sd over draws)}."""
    ma = np.stack([confusion_matrix(t, p) for t, p in zip(*pooled[before])])
    mb = np.stack([confusion_matrix(t, p) for t, p in zip(*pooled[after])])
    rng = np.random.default_rng(seed)

    def stats(a, b):
        ra, rb = report_from_matrix(a), report_from_matrix(b)
        return rb.f1["S"] - ra.f1["S"], rb.f1["V"] - ra.f1["V"], rb.macro_f1 - ra.macro_f1

    whole = stats(ma.sum(axis=0), mb.sum(axis=0))
    drawn = np.array([stats(ma[pick].sum(axis=0), mb[pick].sum(axis=0))
                      for pick in rng.integers(0, len(ma), (draws, len(ma)))])
    return {name: (whole[i], float(np.nanstd(drawn[:, i]))) for i, name in enumerate(("SVEB F1", "VEB F1", "macro-F1"))}


def markdown(title: str, command: str, reports: dict, per_record: list, info: dict) -> str:
    n_a, n_b = info["labels"]["a"], info["labels"]["b"]
    lines = [f"# {title}", "", f"`{command}`", "",
             f"Labels the reader gave over the {len(per_record)} records: (a) {n_a:,} (one per template), "
             f"(b) {n_b:,} (every beat of the first 5 minutes). Adapting one record took "
             f"{info['adapt_s_median']:.1f} s (median; longest {info['adapt_s_max']:.1f} s) on this CPU.",
             *(f"{ROWS[key]}: {n:,} labels." for key, n in info["labels"].items() if key.startswith("a_")), "",
             "| protocol | VEB Se | VEB +P | VEB F1 | SVEB Se | SVEB +P | SVEB F1 | macro-F1 (N,S,V) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, title in ROWS.items():
        r = reports[key]
        lines.append(f"| {title} | {r.se['V']:.3f} | {r.ppv['V']:.3f} | {r.f1['V']:.3f} | {r.se['S']:.3f} | "
                     f"{r.ppv['S']:.3f} | {r.f1['S']:.3f} | {r.macro_f1:.3f} |")
    lines += ["| de Chazal & Reilly 2006, patient-adaptive (IEEE TBME 53:2535; as quoted in issue 10) | 0.943 | "
              "0.962 | | 0.877 | 0.470 | | |", "",
              f"## How much of a difference rests on which patients are in the set ({BOOTSTRAP_DRAWS:,} draws of the "
              f"records with replacement)", "",
              "| rows (from -> to) | SVEB F1 | VEB F1 | macro-F1 |", "| --- | ---: | ---: | ---: |",
              *(f"| {ROWS[a]} -> {ROWS[b]} | " + " | ".join(f"{d:+.3f} ± {sd:.3f}" for d, sd in info["bootstrap"][(a, b)].values())
                + " |" for a, b in BOOTSTRAP_PAIRS), "",
              "## Per record: S and V beats (real / found / predicted) on the beats each protocol scores", "",
              "| record | templates | " + " | ".join(f"{c} {k}" for c in ("S", "V") for k in ROWS) + " |",
              "| --- | ---: |" + " --- |" * (2 * len(ROWS))]
    for row in per_record:
        cells = [f"{row[f'{k}_{c}'][0]}/{row[f'{k}_{c}'][1]}/{row[f'{k}_{c}'][2]}"
                 for c in ("S", "V") for k in ROWS]
        lines.append(f"| {row['record']} | {row['templates']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


SEED_ROWS = ("a_template", "a_keep_s", "a_adapted", "b_vote_shipped", "b_vote_trained")


def seed_summary(title: str, command: str, by_folds: dict) -> str:
    """A markdown table of the main rows' SVEB F1 and macro-F1 for each set of fold networks (``by_folds``: directory
    -> the reports of ``run``), with their mean: how far a setting's DS1 figure moves with the networks that read it."""
    names = list(by_folds)
    lines = [f"# {title}", "", f"`{command}`", "",
             "| row | " + " | ".join(f"`{n}` SVEB F1 / macro-F1" for n in names) + " | mean SVEB F1 / macro-F1 |",
             "| --- |" + " ---: |" * (len(names) + 1)]
    for key in SEED_ROWS:
        got = [(by_folds[n][key].f1["S"], by_folds[n][key].macro_f1) for n in names]
        mean = np.mean(np.array(got, dtype=float), axis=0)
        lines.append(f"| {ROWS[key]} | " + " | ".join(f"{s:.3f} / {m:.3f}" for s, m in got)
                     + f" | {mean[0]:.3f} / {mean[1]:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    parser.add_argument("--records", nargs="*", default=None, help="default: DS2 (DS1 with --ds1)")
    parser.add_argument("--ds1", type=Path, nargs="+", default=None, metavar="FOLDS",
                        help="choose on DS1 instead: each DS1 record with the fold network that never saw it "
                             "(e.g. runs/hybrid/seed0, whose fold<f>.pt train.py writes); several directories (the "
                             "fold networks of several seeds) add a table of the main rows per directory")
    parser.add_argument("--steps", type=int, default=ADAPT_STEPS)
    parser.add_argument("--keep-weight", type=float, default=KEEP_WEIGHT)
    parser.add_argument("--lr", type=float, default=ADAPT_LR)
    parser.add_argument("--keep-absent", action="store_true",
                        help="train the adapted network also on the beats the shipped model labels as a class the "
                             "reader labelled nowhere (adapt.with_absent_classes)")
    parser.add_argument("--template-s", choices=["keep", "overwrite"], default="overwrite",
                        help="in (b), a template labelled N: its beats the network reads as S take N (the app's "
                             "default) or keep S (experiments row 49, the app's box)")
    parser.add_argument("--parts", nargs="+", default=list(ADAPT_PARTS), choices=["head", "beat_lstm"],
                        help="what the adaptation trains (experiments row 48: the head alone)")
    parser.add_argument("--absent-min-prob", type=float, default=0.0, metavar="P",
                        help="with --keep-absent: only the beats the shipped model gives that label with at least "
                             "this probability (experiments row 47)")
    parser.add_argument("--override", type=float, nargs="*", default=[],
                        help="extra rows: each template-labelled beat keeps the template's label unless the network "
                             "adapted to the reader's labels alone gives another class at least this probability")
    parser.add_argument("--split", nargs="*", default=[], metavar="SHARE:BEATS",
                        help="extra rows: templates split where a label other than the commonest holds this share "
                             "and this many of a template's beats (e.g. 0.05:3)")
    args = parser.parse_args()
    for item in args.split:
        share, min_beats = item.split(":")
        SPLITS.append((float(share), int(min_beats)))
        ROWS[split_key(SPLITS[-1])] = (f"(a) one label per template, templates split where a label other than the "
                                       f"commonest holds {float(share):.0%} and {min_beats}+ of its beats")
    for p in args.override:
        OVERRIDES.append(p)
        ROWS[f"a_override_{p:g}"] = f"(a) one label per template, given to its members unless the network adapted to the labels is {p:g} sure of another class"
        ROWS[f"b_override_{p:g}"] = f"(b) the app's adapt, each template label kept unless the network adapted to the first 5 minutes alone is {p:g} sure of another class"
    torch.set_num_threads(1)
    settings = {"steps": args.steps, "keep_weight": args.keep_weight, "lr": args.lr, "parts": tuple(args.parts)}
    described = settings | {"keep_absent": args.keep_absent, "absent_min_prob": args.absent_min_prob,
                            "template_s": args.template_s}
    command = ("python -m benchmarks.bench_adapt " + " ".join(sys.argv[1:])).strip()
    if not args.ds1:
        names = args.records or list(DS2)
        model = load_model(args.weights, "cpu")[0]
        reports, per_record, info = run({name: model for name in names}, names, args.keep_absent,
                                        args.absent_min_prob, args.template_s == "keep", **settings)
        text = markdown(f"A simulated reader on DS2, `{args.weights}`, adaptation {described}", command, reports,
                        per_record, info)
        if args.records is None:
            RESULTS.write_text(text)
        print(text)
        return
    names = args.records or list(DS1)
    by_folds = {}
    for folds in args.ds1:
        reports, per_record, info = run(fold_models(folds, args.weights), names, args.keep_absent,
                                        args.absent_min_prob, args.template_s == "keep", **settings)
        by_folds[str(folds)] = reports
        text = markdown(f"A simulated reader on DS1, out of fold (`{folds}`), adaptation {described}", command,
                        reports, per_record, info)
        if args.records is None:
            with RESULTS_DS1.open("a") as out:
                out.write(text + "\n")
        print(text)
    if len(by_folds) > 1:
        text = seed_summary(f"DS1 out of fold, per set of fold networks, adaptation {described}", command, by_folds)
        if args.records is None:
            with RESULTS_DS1.open("a") as out:
                out.write(text + "\n")
        print(text)


if __name__ == "__main__":
    main()
