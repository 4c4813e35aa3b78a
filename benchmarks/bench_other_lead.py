"""DS1 cross-validation read in each record's other lead: how well a recipe carries to a lead it was not chosen on.

Run from the project root:

    .venv/bin/python -m benchmarks.bench_other_lead --runs hybrid "hybrid_MLII-and-the-other-lead" --seeds 0 1 2 3 4

For each run (``runs/<run>/seed<S>``, written by ``train.py --fold f`` and its summary ``train.py --final false``),
every held-out DS1 patient is classified by the fold network that never saw it, with the decision rule that run's
cross-validation chose (``cv.json``: AF gate, on-time V and S gates, offsets, temperature, template consensus,
far-shape step, run rule), through the serving path (``evaluation.record_logits``: the record loaded, the lead cut,
beats at the reference annotations), once in MLII (which reproduces the run's own cross-validated figure) and once in
the record's other lead (V1 for most MIT-BIH records; V2, V4 or V5 for a few; ``Record.second_lead``). Prints per run
the mean and spread over seeds of macro-F1 (N, S, V) and VEB / SVEB Se and +P on each lead, and B minus A with its
Welch standard error for the first two runs (experiments row 45). Writes benchmarks/results/other_lead.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import train
from benchmarks.ablation import welch_line
from ecgapp.aami import AAMI_CLASSES
from ecgapp.evaluation import record_logits
from ecgapp.metrics import aami_report
from ecgapp.mitdb import load_record
from ecgapp.model import BeatClassifier, load_model

RUNS = Path("runs")
RESULTS = Path("benchmarks/results/other_lead.md")


def with_rule(model: BeatClassifier, rule: dict) -> BeatClassifier:
    """``model`` with the decision rule of a run's cross-validation (``cv.json``'s ``decision_rule``)."""
    model.af_threshold.fill_(rule["af_threshold"])
    model.v_gate.copy_(torch.tensor(rule["v_gate"], dtype=torch.float32))
    model.s_gate.copy_(torch.tensor(rule.get("s_gate", [0.0, 0.0]), dtype=torch.float32))
    model.logit_bias.copy_(torch.tensor([rule["logit_bias"][c] for c in AAMI_CLASSES], dtype=torch.float32))
    model.temperature.fill_(rule["temperature"])
    model.template_mix.fill_(rule["template_mix"])
    model.far_shape.fill_(rule["far_shape"])
    model.sv_run.copy_(torch.tensor(rule["sv_run"], dtype=torch.float32))
    return model.eval()


def fold_networks(folds: Path, config: dict) -> list[tuple[BeatClassifier, list[str]]]:
    """(fold network with its run's rule, its held-out records) for each fold of one run and seed."""
    rule = json.loads((folds / "cv.json").read_text())["decision_rule"]
    return [(with_rule(model, rule), held_out) for model, held_out in train.fold_networks(folds, config)]


def scores(folds: Path, config: dict) -> dict[str, dict]:
    """Pooled out-of-fold AAMI figures of one run and seed, read in MLII and in the other lead."""
    pooled = {"MLII": ([], []), "other lead": ([], [])}
    for model, held_out in fold_networks(folds, config):
        for name in held_out:
            other = load_record(name, annotations=False).second_lead
            for key, lead in (("MLII", None), ("other lead", other)):
                z, y = record_logits(model, [name], lead=lead)[name]
                pooled[key][0].append(z.argmax(axis=1))
                pooled[key][1].append(y)
    out = {}
    for key, (pred, y) in pooled.items():
        r = aami_report(np.concatenate(y), np.concatenate(pred))
        out[key] = {"macro-F1": r.macro_f1, "VEB Se": r.se["V"], "VEB +P": r.ppv["V"], "SVEB Se": r.se["S"],
                    "SVEB +P": r.ppv["S"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["hybrid", "hybrid_MLII-and-the-other-lead"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--weights", default="weights/hybrid", help="the card whose network config the folds share")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_model(args.weights, device="cpu")[1]["config"]
    per_run: dict[str, dict[str, list[dict]]] = {}
    lines = ["# DS1 cross-validation read in the other lead", "",
             "`.venv/bin/python -m benchmarks.bench_other_lead --runs " + " ".join(f'"{r}"' for r in args.runs)
             + " --seeds " + " ".join(map(str, args.seeds)) + "`", "",
             "Each held-out DS1 patient classified by the fold network that never saw it, with its run's "
             "cross-validated rule, in MLII and in its other lead (V1 for most records).", "",
             "| run | seed | lead | macro-F1 (N,S,V) | VEB Se | VEB +P | SVEB Se | SVEB +P |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    keys = ["macro-F1", "VEB Se", "VEB +P", "SVEB Se", "SVEB +P"]
    for run in args.runs:
        for seed in args.seeds:
            folds = RUNS / run / f"seed{seed}"
            if not (folds / "cv.json").exists() or len(list(folds.glob("fold[0-9].pt"))) < 5:
                print(f"{folds}: not complete, left out")
                continue
            for lead, s in scores(folds, config).items():
                per_run.setdefault(run, {}).setdefault(lead, []).append(s)
                lines.append(f"| {run} | {seed} | {lead} | " + " | ".join(f"{s[k]:.3f}" for k in keys) + " |")
                print(lines[-1], flush=True)
    lines += ["", "| run | seeds | lead | " + " | ".join(keys) + " |",
              "| --- | ---: | --- | " + " | ".join("---:" for _ in keys) + " |"]
    for run, leads in per_run.items():
        for lead, rows in leads.items():
            lines.append(f"| {run} | {len(rows)} | {lead} | " + " | ".join(
                f"{np.mean([r[k] for r in rows]):.3f} ± {np.std([r[k] for r in rows]):.3f}" for k in keys) + " |")
    if len(per_run) >= 2:
        a, b = list(per_run)[:2]
        lines.append("")
        for lead in ("MLII", "other lead"):
            xa, xb = (np.array([r["macro-F1"] for r in per_run[run][lead]]) for run in (a, b))
            if len(xa) >= 2 and len(xb) >= 2:
                lines.append(welch_line(lead, a, (xa.mean(), xa.std(), len(xa)), b, (xb.mean(), xb.std(), len(xb)))
                             + "  ")
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
