"""Which attribution method is faithful to the network: deletion curves and a weight-randomisation check.

    .venv/bin/python -m benchmarks.bench_faithfulness

Deletion (Samek et al. 2017): for each beat, the samples of the beat window are removed (set to the
explanation's reference, a flat line) in the order a method ranks them, most important first, 10% at a time,
and the probability of the explained class is read after each step. A faithful method makes it fall fast: the
area under the curve (AUC, mean probability over the steps) is lower. A random order is the yardstick.
Sanity (Adebayo et al. 2018): the same beats explained by the same architecture with random weights; a method
whose maps barely change is not reading the network (Spearman rank correlation of |attribution|).

Beats: every 25th beat of each DS2 record labelled V or S by the shipped model plus as many N beats (reference
beat locations, lead MLII), explained for their predicted class. Writes benchmarks/results/faithfulness.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ecgapp.beats import extract_beats
from ecgapp.explain import METHODS, explain_beat
from ecgapp.features import beat_inputs
from ecgapp.inference import predict_inputs
from ecgapp.mitdb import DS2, load_record
from ecgapp.model import BeatClassifier, load_model

OUT = Path("benchmarks/results/faithfulness.md")
STEPS = np.linspace(0, 1, 11)  # share of the window removed
EVERY = 25


def ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty(x.size)
    r[np.argsort(x, kind="stable")] = np.arange(x.size)
    return r


def deletion_curve(model, waves, rr, i: int, order: np.ndarray, target: int) -> np.ndarray:
    """Probability of ``target`` for beat ``i`` as the window's samples are removed in ``order`` (STEPS)."""
    n = waves.shape[-1]
    batch = np.repeat(waves[i: i + 1], len(STEPS), axis=0).copy()
    for k, share in enumerate(STEPS):
        batch[k, 0, order[: int(round(share * n))]] = 0.0
    probs = []
    lo, hi = max(i - model.config.context, 0), min(i + model.config.context + 1, len(waves))
    for k in range(len(STEPS)):  # the sequence model reads the beat among its neighbours: swap it in (the
        w = waves[lo:hi].copy()  # centre beat's label depends only on them, so a slice is enough)
        w[i - lo] = batch[k]
        probs.append(predict_inputs(model, w, rr[lo:hi])[i - lo, target])
    return np.array(probs)


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model, card = load_model("weights/hybrid", "cpu")
    random_model = BeatClassifier(model.config).eval()  # same architecture, random weights (seeded)
    rng = np.random.default_rng(0)
    curves = {m: [] for m in (*METHODS, "random order")}
    rank_corr = {m: [] for m in METHODS}
    beats_used = 0
    for name in DS2:
        beats = extract_beats(load_record(name), lead=0)
        waves, rr = beat_inputs(beats)
        pred = predict_inputs(model, waves, rr).argmax(axis=1)
        ectopic = np.flatnonzero(pred != 0)[::EVERY]
        normal = np.flatnonzero(pred == 0)[:: max(EVERY, len(pred) // max(len(ectopic), 1))][: max(len(ectopic), 2)]
        for i in np.concatenate([ectopic, normal]):
            beats_used += 1
            for method in METHODS:
                e = explain_beat(model, waves, rr, int(i), method=method)
                order = np.argsort(-(e.wave_attribution if method != "Saliency" else np.abs(e.wave_attribution)),
                                   kind="stable")
                curves[method].append(deletion_curve(model, waves, rr, int(i), order, int(pred[i])))
                r = explain_beat(random_model, waves, rr, int(i), method=method, target=int(pred[i]))
                a, b = np.abs(e.wave_attribution), np.abs(r.wave_attribution)
                rank_corr[method].append(np.corrcoef(ranks(a), ranks(b))[0, 1])
            curves["random order"].append(deletion_curve(model, waves, rr, int(i), rng.permutation(waves.shape[-1]),
                                                         int(pred[i])))
    lines = ["# Attribution faithfulness (shipped model, DS2)", "", "`.venv/bin/python -m benchmarks.bench_faithfulness`",
             "", f"{beats_used} beats (ectopic and normal, explained for the predicted class). Deletion AUC: mean "
             f"probability of the class while 0-100% of the window is removed, most-attributed samples first (lower = "
             f"more faithful). Rank correlation with the same method on a randomly initialised network (lower = the "
             f"method reads the trained weights).", "",
             "| method | deletion AUC | probability after 10% removed | after 30% | rank correlation with random weights |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for m, c in curves.items():
        c = np.array(c)
        corr = f"{np.nanmean(rank_corr[m]):.2f}" if m in rank_corr else "-"
        lines.append(f"| {m} | {c.mean():.3f} | {c[:, 1].mean():.3f} | {c[:, 3].mean():.3f} | {corr} |")
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
