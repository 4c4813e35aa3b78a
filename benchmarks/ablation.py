"""Ablation by patient-grouped cross-validation inside DS1 (and DS2 once per row): which parts earn their place.

Run from the project root:

    .venv/bin/python -m benchmarks.ablation [--variants hybrid cnn ...] [--seeds 0 1 2] [--workers 2] [--ds2]

Each row is ``train.py`` with the flags in VARIANTS: the 5 folds run as separate processes (``--workers``
at a time, one torch thread each; results cached in runs/<variant>/seed<S>/, so an interrupted run goes on
where it stopped), then the out-of-fold figures are pooled. With ``--ds2`` the row's model is also trained on
all of DS1 and evaluated on DS2 once (runs/ablation/<variant>_s<S>.json): DS2 is reported, never used to
choose. Writes benchmarks/results/ablation_cv.json and .md and prints a markdown table (mean ± sd over seeds).
``--summarise`` only reads what is cached; ``--refit`` recomputes the summary of every fully cached row with
train.py's current decision rule (no training). ``--extend`` adds the given seeds to a row already in the JSON whose
own seeds' caches are gone (the cross-validation means and spreads are combined exactly; the seeds must be new to
the row). ``--compare A B`` prints B minus A over their seeds with the Welch standard error (sample spreads), from
the JSON or from ``--results``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

RUNS = Path("runs")
RESULTS = Path("benchmarks/results/ablation_cv.json")
# name -> train.py flags (on top of train.py's defaults, which are the shipped model's settings)
NO_APC = ["--premature-augment", "0"]  # rows run before synthetic APCs became the default ...
NO_INV = ["--invariance", "0"]  # ... and rows run before subject-invariant training did
NO_SVR = ["--supraventricular-augment", "0"]  # ... and rows run before synthetic SV runs did (experiments row 37)
VARIANTS: dict[str, list[str]] = {
    "hybrid": [],
    "hybrid, no synthetic SV runs": NO_SVR,  # the shipped recipe before experiments row 37
    "hybrid, no subject invariance": [*NO_INV, *NO_SVR],
    "hybrid, subject-invariant 1": ["--invariance", "1.0", *NO_SVR],
    "hybrid, subject-invariant 0.1": ["--invariance", "0.1", *NO_SVR],
    "hybrid, subject-invariant 0.5": ["--invariance", "0.5", *NO_SVR],
    "hybrid, invariant context": ["--invariance-on", "context", *NO_SVR],
    "hybrid, invariant both": ["--invariance-on", "both", *NO_SVR],
    "hybrid, 10 epochs": ["--epochs", "10", *NO_SVR],
    "hybrid, APCs on the T wave": ["--premature-waves", "true", *NO_SVR],
    "hybrid, up to 16 synthetic APCs": ["--premature-max", "16", *NO_SVR],
    "hybrid, no synthetic APCs": [*NO_APC, *NO_INV, *NO_SVR],
    "cnn": ["--arch", "cnn", *NO_APC, *NO_INV, *NO_SVR],
    "hybrid, no template": ["--template", "false", *NO_APC, *NO_INV, *NO_SVR],
    "hybrid, 8 RR features": ["--rr-features", "8", *NO_APC, *NO_INV, *NO_SVR],
    "hybrid, 360 Hz only": ["--rates", "360", *NO_SVR],  # on the shipped settings: does training at 128 Hz too earn its place?
    "hybrid, dropout 0.5": ["--dropout", "0.5", *NO_SVR],
    "hybrid, unweighted loss": ["--class-weighting", "none", *NO_SVR],  # the loss: never chosen by cross-validation before
    "hybrid, inverse-frequency loss": ["--class-weighting", "inverse", *NO_SVR],
    "hybrid, label smoothing 0.1": ["--label-smoothing", "0.1", *NO_SVR],
    "hybrid, synthetic ventricular runs 0.2": ["--ventricular-augment", "0.2", *NO_SVR],
    "hybrid, synthetic SV and ventricular runs 0.2": ["--supraventricular-augment", "0.2", "--ventricular-augment", "0.2"],
    "hybrid, synthetic sinus arrhythmia 0.3": ["--sinus-augment", "0.3"],  # experiments row 39
    "hybrid, MLII and the other lead": ["--leads", "2"],  # experiments row 45
    "hybrid, P-wave pooling": ["--pool", "regions"],  # experiments row 46
    "hybrid, AF re-timing 0.3": ["--rhythm-augment", "0.3", *NO_APC, *NO_INV, *NO_SVR],
    "hybrid, 8 beats each side": ["--context", "8", *NO_SVR],
    "intrabeat": ["--arch", "intrabeat", "--template", "false", *NO_APC, *NO_INV, *NO_SVR],
    "lstm": ["--arch", "lstm", "--template", "false", *NO_APC, *NO_INV, *NO_SVR],
}
STATS = [("V", "Se"), ("V", "+P"), ("V", "F1"), ("S", "Se"), ("S", "+P"), ("S", "F1")]


def tag_of(variant: str) -> str:
    return variant.replace(", ", "_").replace(" ", "-")


def fold_command(variant: str, seed: int, extra=()) -> list[str]:
    return [sys.executable, "train.py", *VARIANTS[variant], "--seed", str(seed), "--tag", tag_of(variant), *extra]


def run_all(variants, seeds, workers: int, ds2: bool, folds: int = 5) -> None:
    """Every missing fold of every row, ``workers`` at a time across rows; then each row's summary."""
    jobs = [(v, s, f) for s in seeds for v in variants for f in range(folds)  # every row's first seed first
            if not (RUNS / tag_of(v) / f"seed{s}" / f"fold{f}.npz").exists()]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda j: subprocess.run(fold_command(j[0], j[1], ["--fold", str(j[2]), "--final", "false",
                                                                          "--threads", "1"]), check=True, env=env),
                      jobs))
    for v in variants:
        for s in seeds:
            out = RUNS / "ablation" / f"{tag_of(v)}_s{s}"
            if ds2 and not out.with_suffix(".json").exists():
                subprocess.run(fold_command(v, s, ["--out", str(out)]), check=True, env=env)
            elif not ds2:  # the row's summary, from its cached folds (seconds): refitted with the current rule
                subprocess.run(fold_command(v, s, ["--final", "false"]), check=True, env=env)


def load_row(variant: str, seed: int, runs: Path = RUNS) -> dict:
    """One row and seed: its cross-validation (``cv.json``, rewritten by ``--refit`` with the current rule; else
    the DS2 run's card) and its DS2 figures (the card of ``--ds2``, with the rule of the day it was trained)."""
    out = runs / "ablation" / f"{tag_of(variant)}_s{seed}.json"
    card = json.loads(out.read_text()) if out.exists() else None
    cv_path = runs / tag_of(variant) / f"seed{seed}" / "cv.json"
    if not cv_path.exists() and card is None:
        raise FileNotFoundError(cv_path)
    cv = json.loads(cv_path.read_text()) if cv_path.exists() else card["cross_validation"]
    return {"seed": seed, "cv": cv, "ds2": card["ds2"] if card else None}


def _mean_sd(values) -> list | None:
    values = [v for v in values if v is not None]
    return [round(float(np.mean(values)), 4), round(float(np.std(values)), 4)] if values else None


def _combine(old: list | None, n_old: int, new: list | None, n_new: int) -> list | None:
    """Exact mean and population sd of two disjoint groups of seeds, from each group's [mean, sd] and size."""
    if old is None or new is None:
        return old if new is None else new
    n = n_old + n_new
    mean = (n_old * old[0] + n_new * new[0]) / n
    second = (n_old * (old[1] ** 2 + old[0] ** 2) + n_new * (new[1] ** 2 + new[0] ** 2)) / n
    return [round(mean, 4), round(float(np.sqrt(max(second - mean ** 2, 0.0))), 4)]


def extend(stored: dict, added: dict) -> dict:
    """``stored`` (a row of the JSON) with the seeds of ``added`` (the same row summarised over new seeds only)."""
    if set(stored.get("seed list", [])) & set(added["seed list"]):
        raise SystemExit(f"--extend: seeds {sorted(set(stored['seed list']) & set(added['seed list']))} "
                         "are already in the stored row")
    out = dict(stored)
    for where in ("cv", "cv128"):
        n_old, n_new = stored[where]["n"], added[where]["n"]
        out[where] = {k: _combine(v, n_old, added[where][k], n_new) for k, v in stored[where].items() if k != "n"}
        out[where]["n"] = n_old + n_new
    out["cv fold macro-F1"] = _combine(stored["cv fold macro-F1"], stored["cv"]["n"], added["cv fold macro-F1"],
                                       added["cv"]["n"])
    out["seeds"] = out["cv"]["n"]
    if "seed list" in stored:
        out["seed list"] = sorted(stored["seed list"] + added["seed list"])
    return out


def welch_line(label: str, a: str, stats_a: tuple, b: str, stats_b: tuple) -> str:
    """One line: B minus A, each (mean, population sd, seeds), with the Welch standard error of the difference from
    the sample spreads (sd^2 n / (n - 1) per seed, so s^2 / n = sd^2 / (n - 1))."""
    (ma, sa, na), (mb, sb, nb) = stats_a, stats_b
    se = float(np.sqrt(sa ** 2 / (na - 1) + sb ** 2 / (nb - 1)))
    return (f"{label}: {b} {mb:.4f} ({nb} seeds) - {a} {ma:.4f} ({na} seeds) = {mb - ma:+.4f}, "
            f"Welch SE {se:.4f}, {(mb - ma) / se:+.2f} SE")


def compare(summary: dict, a: str, b: str) -> str:
    """B minus A in DS1 cross-validation (360 and 128 Hz): difference of the means over seeds and its Welch
    standard error (``welch_line``; the JSON keeps population spreads)."""
    return "\n".join(welch_line(label, a, (*summary[a][where]["macro-F1"], summary[a][where]["n"]),
                                b, (*summary[b][where]["macro-F1"], summary[b][where]["n"]))
                     for where, label in (("cv", "DS1 CV"), ("cv128", "DS1 CV @128 Hz")))


def summarise(rows: dict[str, list[dict]]) -> dict:
    summary = {}
    for variant, runs in rows.items():
        out = {"seeds": len(runs), "seed list": [r["seed"] for r in runs], "flags": " ".join(VARIANTS[variant])}
        for where, get in (("cv", lambda r: r["cv"]["at_360Hz"]["with_rule"]),
                           ("cv128", lambda r: r["cv"]["at_128Hz"]["with_rule"]),
                           ("ds2", lambda r: r["ds2"]["360Hz"]["report"] if r["ds2"] else None),
                           ("ds2_128", lambda r: r["ds2"]["128Hz"]["report"] if r["ds2"] else None)):
            reps = [get(r) for r in runs]
            if all(rep is None for rep in reps):
                continue
            out[where] = {f"{c} {s}": _mean_sd(rep[s][c] for rep in reps if rep) for c, s in STATS}
            out[where]["macro-F1"] = _mean_sd(rep["macro_F1_NSV"] for rep in reps if rep)
            out[where]["F predicted"] = _mean_sd(sum(row[3] for row in rep["confusion_matrix"]["counts"])
                                                 for rep in reps if rep)
            out[where]["n"] = sum(rep is not None for rep in reps)
        out["cv fold macro-F1"] = _mean_sd(r["cv"]["at_360Hz"]["fold_macro_f1_mean"] for r in runs)
        summary[variant] = out
    return summary


def markdown(summary: dict) -> str:
    keys = [f"{c} {s}" for c, s in STATS] + ["macro-F1", "F predicted"]
    head = " | ".join(k.replace("V ", "VEB ").replace("S ", "SVEB ") for k in keys)
    lines = [f"| model | seeds | where | {head} |", "| --- | ---: | --- | " + " | ".join("---:" for _ in keys) + " |"]
    for variant, row in summary.items():
        for where, label in (("cv", "DS1 CV"), ("cv128", "DS1 CV @128 Hz"), ("ds2", "DS2"), ("ds2_128", "DS2 @128 Hz")):
            if where not in row:
                continue
            cells = " | ".join("-" if row[where][k] is None else
                               (f"{row[where][k][0]:.0f} ± {row[where][k][1]:.0f}" if k == "F predicted" else
                                f"{row[where][k][0]:.3f} ± {row[where][k][1]:.3f}") for k in keys)
            lines.append(f"| {variant} | {row[where].get('n', row['seeds'])} | {label} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ds2", action="store_true", help="also train each row on all of DS1 and report DS2")
    parser.add_argument("--summarise", action="store_true", help="only read cached results")
    parser.add_argument("--extend", action="store_true",
                        help="add the seeds to the rows already in the JSON (whose own caches may be gone)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="print B minus A (DS1 CV macro-F1) with its Welch standard error, from the JSON")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the JSON --compare reads and a summary writes (e.g. benchmarks/results/"
                             "ablation_cv_row37.json: the rows as experiments row 37 was decided, with the rule of the day)")
    parser.add_argument("--runs", type=Path, default=RUNS,
                        help="where --summarise reads the rows' cv.json (runs/cuda: benchmarks.gpu_folds' runs on a GPU)")
    parser.add_argument("--refit", action="store_true",
                        help="no training: refit each fully cached row's summary with train.py's current rule")
    args = parser.parse_args()
    if args.compare:
        print(compare(json.loads(args.results.read_text()), *args.compare))
        return
    if args.refit:
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        for v in args.variants:
            for s in args.seeds:
                if all((RUNS / tag_of(v) / f"seed{s}" / f"fold{f}.npz").exists() for f in range(5)):
                    subprocess.run(fold_command(v, s, ["--final", "false"]), check=True, env=env)
    elif not args.summarise:
        run_all(args.variants, args.seeds, args.workers, args.ds2)
    rows: dict[str, list[dict]] = {}
    for variant in args.variants:
        for seed in args.seeds:
            try:
                rows.setdefault(variant, []).append(load_row(variant, seed, args.runs))
            except FileNotFoundError:
                continue
    summary = summarise({k: v for k, v in rows.items() if v})
    results = args.results
    previous = json.loads(results.read_text()) if results.exists() else {}
    previous = {k: v for k, v in previous.items() if k in VARIANTS}  # rows renamed or retired since
    if args.extend:
        summary = {k: extend(previous[k], v) if k in previous else v for k, v in summary.items()}
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(previous | summary, indent=2) + "\n")
    results.with_suffix(".md").write_text(markdown(previous | summary) + "\n")
    print(markdown(previous | summary))


if __name__ == "__main__":
    main()
