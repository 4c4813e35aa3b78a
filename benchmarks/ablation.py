"""Ablation: hybrid vs CNN-only vs LSTM-only, same data, augmentation and budget, several seeds each.

Run from the project root: .venv/bin/python -m benchmarks.ablation [--seeds 0 1 2] [--archs hybrid cnn lstm]

Each run is ``train.py --arch A --seed S`` (selection on validation, DS2 evaluated once at the end);
weights and cards go to runs/ablation/ (not tracked). Prints, per architecture, the mean and standard
deviation over seeds of the DS2 statistics, and writes them to benchmarks/results/ablation.json.
Use --summarise to print the table from existing cards without training; --tag _uni -- --bidirectional false
runs a variant under other names (benchmarks/results/ablation_uni.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import train

RUNS = Path("runs/ablation")
RESULTS = Path("benchmarks/results/ablation.json")
COLUMNS = [("V", "Se"), ("V", "+P"), ("V", "F1"), ("S", "Se"), ("S", "+P"), ("S", "F1")]


def summarise(cards: dict[str, list[dict]]) -> dict:
    summary = {}
    for arch, runs in cards.items():
        row = {}
        for cls, stat in COLUMNS:
            values = [r["ds2"][stat][cls] for r in runs if r["ds2"][stat][cls] is not None]
            row[f"{cls} {stat}"] = (round(float(np.mean(values)), 4), round(float(np.std(values)), 4))
        for key, getter in (("macro-F1", lambda r: r["ds2"]["macro_F1_NSV"]),
                            ("accuracy", lambda r: r["ds2"]["accuracy"]),
                            ("val macro-F1", lambda r: r["validation"]["macro_F1_NSV"]),
                            ("epoch s", lambda r: next(iter(r["training"]["epoch_time_s"].values())))):
            values = [getter(r) for r in runs]
            row[key] = (round(float(np.mean(values)), 4), round(float(np.std(values)), 4))
        row["seeds"] = [r["train_config"]["seed"] for r in runs]
        row["parameters"] = runs[0]["parameters"]
        summary[arch] = row
    return summary


def markdown(summary: dict) -> str:
    keys = [f"{c} {s}" for c, s in COLUMNS] + ["macro-F1", "accuracy", "val macro-F1"]
    lines = ["| model | params | seeds | " + " | ".join(k.replace("V ", "VEB ").replace("S ", "SVEB ") for k in keys) + " |",
             "| --- | ---: | --- | " + " | ".join("---:" for _ in keys) + " |"]
    for arch, row in summary.items():
        cells = " | ".join(f"{row[k][0]:.3f} ± {row[k][1]:.3f}" for k in keys)
        lines.append(f"| {arch} | {row['parameters']:,} | {','.join(map(str, row['seeds']))} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["hybrid", "cnn", "lstm"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--summarise", action="store_true", help="only read existing cards")
    parser.add_argument("--tag", default="", help="suffix for run names and the results file (variants)")
    parser.add_argument("extra", nargs="*", help="more train.py flags after --, e.g. -- --epochs 20")
    args = parser.parse_args()
    cards: dict[str, list[dict]] = {}
    for arch in args.archs:
        for seed in args.seeds:
            out = RUNS / f"{arch}{args.tag}_s{seed}"
            if not args.summarise:
                train.main(["--arch", arch, "--seed", str(seed), "--out", str(out), *args.extra])
            cards.setdefault(arch, []).append(json.loads(out.with_suffix(".json").read_text()))
    summary = summarise(cards)
    results = RESULTS.with_name(f"ablation{args.tag}.json")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(summary))


if __name__ == "__main__":
    main()
