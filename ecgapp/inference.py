"""Classifying beats: the one path from a Record (or a BeatSet) to per-beat class probabilities.

Used by train.py's evaluation, ``python -m ecgapp classify/evaluate`` and the app. Inputs are the beats of
ONE record in time order (``features.beat_inputs``): the sequence model labels each beat from it and its
neighbours, so batching never mixes records and a beat's label does not depend on the batch size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .aami import AAMI_CLASSES
from .beats import BeatSet, extract_beats
from .features import beat_inputs
from .records import Record


@torch.no_grad()
def predict_logits(model: torch.nn.Module, waves: np.ndarray, rr: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Logits (n, 5) float32 (decision rule and temperature included) for one record's model inputs."""
    model.eval()
    n = len(waves)
    if n == 0:
        return np.zeros((0, len(AAMI_CLASSES)), np.float32)
    device = next(model.parameters()).device
    emb = torch.cat([model.encode(torch.from_numpy(np.ascontiguousarray(waves[i: i + batch_size])).to(device),
                                  torch.from_numpy(np.ascontiguousarray(rr[i: i + batch_size])).to(device))
                     for i in range(0, n, batch_size)])
    index = model.context_index(n, device)
    return torch.cat([model.classify(emb, index[i: i + batch_size]).float()
                      for i in range(0, n, batch_size)]).cpu().numpy()


def predict_inputs(model: torch.nn.Module, waves: np.ndarray, rr: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Class probabilities (n, 5) float32 for one record's model inputs (see features.beat_inputs)."""
    logits = predict_logits(model, waves, rr, batch_size)
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()


def predict_beats(model: torch.nn.Module, beats: BeatSet) -> np.ndarray:
    """Class probabilities (n, 5) for one record's beats."""
    return predict_inputs(model, *beat_inputs(beats))


def beats_table(beats: BeatSet, probs: np.ndarray) -> pd.DataFrame:
    """One row per beat: sample (at the record's own rate), time_s, label, confidence, p_N..p_Q, reference."""
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    table = pd.DataFrame({
        "sample": beats.sample, "time_s": np.round(beats.time_s, 4),
        "label": np.asarray(AAMI_CLASSES)[pred] if len(pred) else np.array([], dtype=str),
        "confidence": np.round(probs.max(axis=1) if len(probs) else np.zeros(0), 4),
    })
    for k, cls in enumerate(AAMI_CLASSES):
        table[f"p_{cls}"] = np.round(probs[:, k], 4) if len(probs) else np.zeros(0)
    ref = np.where(beats.label >= 0, np.asarray(AAMI_CLASSES)[np.clip(beats.label, 0, None)], "")
    table["reference"] = ref
    return table


def classify_record(model: torch.nn.Module, record: Record, lead=None, r_peaks=None) -> tuple[BeatSet, pd.DataFrame]:
    """Cut and classify every beat of one lead; returns the beats and their table (see beats_table)."""
    beats = extract_beats(record, lead=lead, r_peaks=r_peaks)
    return beats, beats_table(beats, predict_beats(model, beats))
