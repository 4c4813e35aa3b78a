"""One record, analysed: the filtered lead, its beats (reference or detected), their labels and summary.

``analyse`` is what the app shows for a record; it only calls the shared pipeline (``processing.clean``,
``detection.detect_r_peaks``, ``beats.extract_beats``, ``features.beat_inputs``, ``inference``), so the
app sees exactly what training, evaluation and the CLI see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .aami import AAMI_CLASSES, aami_index, is_beat
from .beats import BeatSet, extract_beats, intervals_spanning_gaps
from .detection import MATCH_TOLERANCE_S, detect_r_peaks, match_beats
from .errors import InputError
from .inference import classify_beats
from .metrics import AamiReport
from .processing import MODEL_FS, clean, resample
from .records import Record
from .summary import agreement, rhythm_summary

BEAT_SOURCES = ("reference", "detected")


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything the app displays for one lead of one record.

    ``signal``/``raw``: the filtered and unfiltered lead (mV) at MODEL_FS Hz (NaN where masked);
    ``table``: one row per beat (``inference.beats_table``; index = beat number - 1); ``waves``/``rr``:
    the model inputs of those beats (for explanations); ``detection``: when detected beats are compared
    with reference annotations, the counts of matched, missed and extra beats.
    """

    record: str
    lead: str
    source: str
    fs: float
    duration_s: float
    signal: np.ndarray
    raw: np.ndarray
    beats: BeatSet
    waves: np.ndarray
    rr: np.ndarray
    table: pd.DataFrame
    summary: dict
    agreement: AamiReport | None
    detection: dict | None


def reference_labels_for(record: Record, detected: np.ndarray) -> tuple[np.ndarray, dict | None]:
    """Reference AAMI letters ('' = none) for detected R peaks, matched within 150 ms, and match counts."""
    ann = record.annotations
    labels = np.full(detected.size, "", dtype="<U1")
    if ann is None:
        return labels, None
    keep = is_beat(ann.symbol)
    ref_samples = ann.sample[keep]
    ref_cls = aami_index(ann.symbol[keep])
    ri, di = match_beats(ref_samples, detected, int(round(MATCH_TOLERANCE_S * record.fs)))
    labels[di] = np.asarray(AAMI_CLASSES)[ref_cls[ri]]
    return labels, {"reference beats": int(ref_samples.size), "matched": int(ri.size),
                    "missed": int(ref_samples.size - ri.size), "extra": int(detected.size - di.size)}


def analyse(model: torch.nn.Module, record: Record, lead: str | int | None = None,
            source: str = "reference") -> Analysis:
    """Filter one lead, find its beats (``source``: 'reference' annotations or 'detected'), classify them."""
    if source not in BEAT_SOURCES:
        raise ValueError(f"beat source must be one of {BEAT_SOURCES}, got {source!r}")
    li = record.lead_index(lead)
    name = record.leads[li]
    x = record.signal[:, li]
    if np.isnan(x).all():
        raise InputError(f"{record.name}: lead {name} holds no valid samples")
    r_peaks = None
    detection = None
    if source == "detected":
        r_peaks = detect_r_peaks(x, record.fs, lead=f"{record.name} lead {name}")
    elif record.annotations is None or not is_beat(record.annotations.symbol).any():
        raise InputError(f"{record.name}: no reference beat annotations; choose detected beats")
    beats = extract_beats(record, lead=li, r_peaks=r_peaks)
    if len(beats) == 0:
        raise InputError(f"{record.name}: no beats with a complete window on lead {name}")
    waves, rr, table = classify_beats(model, beats)
    if source == "detected":
        labels, detection = reference_labels_for(record, beats.sample)
        table["reference"] = labels
    signal = clean(x, record.fs)
    broken = intervals_spanning_gaps(x, beats.sample)
    return Analysis(
        record=record.name, lead=name, source=source, fs=record.fs, duration_s=record.duration_s,
        signal=signal, raw=resample(x, record.fs, MODEL_FS), beats=beats, waves=waves, rr=rr, table=table,
        summary=rhythm_summary(table, broken), agreement=agreement(table), detection=detection,
    )
