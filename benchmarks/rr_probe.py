"""Probe: how far do RR features alone carry S and V beats across patients? (rows 0-0c of experiments.md)

Run from the project root: .venv/bin/python -m benchmarks.rr_probe

A small MLP (one hidden layer of 32) on RR features only (no waveform), trained on the same 5 patient-grouped
DS1 folds as the network (``crossval.ds1_folds``), 300 full-batch Adam steps, sqrt class weights; prints the
pooled out-of-fold statistics (no decision rule) for three feature sets. Cheap (about a minute), so it was used
to pick which rhythm features to give the network; the network's own cross-validation then decided.
"""

from __future__ import annotations

import numpy as np
import torch

from ecgapp.beats import RR_FEATURES, extract_beats
from ecgapp.crossval import ds1_folds
from ecgapp.features import rr_inputs
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS1, load_record

BASE = list(RR_FEATURES[:8])
SETS = {"8 RR features": BASE, "+ RR irregularity": BASE + ["rr_irregularity"],
        "+ RR irregularity + pre RR over previous RR": BASE + ["rr_irregularity", "pre_rr_prev"]}


def features(rr: np.ndarray, names: list[str]) -> np.ndarray:
    cols = [RR_FEATURES.index(n) for n in names]
    x = rr[:, cols].copy()
    ratios = [i for i, n in enumerate(names) if not n.endswith("_s") and n != "rr_irregularity"]
    x[:, ratios] = np.log(np.clip(x[:, ratios], 0.05, 20))  # ratios on a log scale: 0.5 and 2 equally far
    return x.astype(np.float32)


def main() -> None:
    torch.set_num_threads(1)
    data = {n: (rr_inputs(b.rr), b.label) for n in DS1 for b in [extract_beats(load_record(n))]}
    for label, names in SETS.items():
        pred, truth = [], []
        for held in ds1_folds():
            train = [n for n in DS1 if n not in held]
            x = torch.from_numpy(np.concatenate([features(data[n][0], names) for n in train]))
            y = torch.from_numpy(np.concatenate([data[n][1] for n in train]))
            torch.manual_seed(0)
            mlp = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 5))
            counts = np.bincount(y.numpy(), minlength=5)
            w = np.where(counts > 0, np.minimum(np.sqrt(counts.max() / np.maximum(counts, 1)), 10), 0)
            loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float32))
            opt = torch.optim.Adam(mlp.parameters(), 1e-2)
            for _ in range(300):
                opt.zero_grad()
                loss_fn(mlp(x), y).backward()
                opt.step()
            with torch.no_grad():
                for n in held:
                    pred.append(mlp(torch.from_numpy(features(data[n][0], names))).argmax(1).numpy())
                    truth.append(data[n][1])
        r = aami_report(np.concatenate(truth), np.concatenate(pred))
        print(f"{label:45s} macro-F1 {r.macro_f1:.3f}  SVEB Se {r.se['S']:.3f} +P {r.ppv['S']:.3f}  "
              f"VEB Se {r.se['V']:.3f} +P {r.ppv['V']:.3f}")


if __name__ == "__main__":
    main()
