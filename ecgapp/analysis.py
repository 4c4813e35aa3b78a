"""One record, analysed: the filtered lead, its beats (reference or detected), their labels and summary.

``analyse`` is what the app shows for a record; it only calls the shared pipeline (``processing.clean``,
``detection.detect_r_peaks``, ``beats.extract_beats``, ``features.beat_inputs``, ``inference``), so the
app sees exactly what training, evaluation and the CLI see.
"""

from __future__ import annotations

from collections.abc import Callable
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
from .quality import StretchQuality, stretch_quality
from .records import Record, lead_label
from .summary import agreement, rhythm_summary

BEAT_SOURCES = ("reference", "detected")
Progress = Callable[[float, str], None]  # (fraction done 0..1, what is being done now)
# where each step ends, as a fraction of the whole (measured on a 24-hour lead: bench_holter)
_STEPS = {"finding beats": 0.43, "filtering": 0.48, "cutting beats": 0.5, "classifying beats": 0.9,
          "checking signal quality": 0.99, "summarising": 1.0}


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything the app displays for one lead of one record.

    ``signal``/``raw``: the filtered and unfiltered lead (mV) at MODEL_FS Hz (NaN where masked; ``raw`` is the
    record's own samples, not a copy, when they are float32 at MODEL_FS);
    ``table``: one row per beat (``inference.beats_table``; index = beat number - 1; after a reader's review,
    ``review.reviewed`` adds ``model_label`` and ``label_by``); ``waves``/``rr``:
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
    broken: np.ndarray | None = None  # (n-1,) RR intervals spanning missing data or touching an unreadable beat
    # (left out of heart rate and the rhythm report)
    quality: StretchQuality | None = None  # per-stretch signal quality (``quality.stretch_quality``)

    @property
    def nbytes(self) -> int:
        """Memory held by the analysis's arrays and table (bytes), for bounded caches."""
        arrays = (self.signal, self.raw, self.waves, self.rr, self.beats.windows, self.beats.rr, self.beats.sample)
        return sum(a.nbytes for a in arrays) + int(self.table.memory_usage(deep=True).sum())


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


def mark_unreadable(table: pd.DataFrame, quality: StretchQuality, broken: np.ndarray | None) -> np.ndarray | None:
    """Beats inside unreadable stretches are labelled Q (in place: ``table`` gains ``unreadable`` and
    ``network_label``, the network's own label); returns ``broken`` (n-1 RR intervals left out of heart rate
    and the rhythm report) with every interval that touches an unreadable beat added."""
    unreadable = quality.beats_unreadable(table["time_s"].to_numpy())
    table["network_label"] = table["label"]
    table["unreadable"] = unreadable
    table.loc[unreadable, "label"] = "Q"
    if not unreadable.any():
        return broken
    touching = unreadable[:-1] | unreadable[1:]
    return touching if broken is None else (np.asarray(broken, bool) | touching)


def analyse(model: torch.nn.Module, record: Record, lead: str | int | None = None,
            source: str = "reference", progress: Progress | None = None) -> Analysis:
    """Filter one lead, find its beats (``source``: 'reference' annotations or 'detected'), classify them.

    ``progress(fraction, step)`` is called as the work goes on (a progress bar for long records).
    """
    if source not in BEAT_SOURCES:
        raise ValueError(f"beat source must be one of {BEAT_SOURCES}, got {source!r}")
    report = progress or (lambda done, what: None)
    starts = dict(zip(_STEPS, [0.0, *_STEPS.values()]))
    li = record.lead_index(lead)
    name = record.leads[li]
    x = record.signal[:, li]
    if np.isnan(x).all():
        raise InputError(f"{record.name}: {lead_label(name)} holds no valid samples")
    r_peaks = None
    detection = None
    if source == "detected":
        report(0.0, "finding beats")
        r_peaks = detect_r_peaks(x, record.fs, lead=f"{record.name} {lead_label(name)}")
    elif record.annotations is None or not is_beat(record.annotations.symbol).any():
        raise InputError(f"{record.name}: no reference beat annotations; choose detected beats")
    report(starts["filtering"], "filtering")
    signal = clean(x, record.fs)  # once: the beats are cut from it and the app draws it
    report(starts["cutting beats"], "cutting beats")
    beats = extract_beats(record, lead=li, r_peaks=r_peaks, cleaned=signal)
    if len(beats) == 0:
        raise InputError(f"{record.name}: no beats with a complete window on {lead_label(name)}")
    a, b = starts["classifying beats"], _STEPS["classifying beats"]
    report(a, "classifying beats")
    waves, rr, table = classify_beats(model, beats, progress=lambda done: report(a + (b - a) * done,
                                                                                 "classifying beats"))
    report(b, "checking signal quality")
    if source == "detected":
        labels, detection = reference_labels_for(record, beats.sample)
        table["reference"] = labels
    raw = x if record.fs == MODEL_FS and x.dtype == np.float32 else resample(x, record.fs, MODEL_FS)
    quality = stretch_quality(signal, raw, beats)
    report(_STEPS["checking signal quality"], "summarising")
    broken = mark_unreadable(table, quality, intervals_spanning_gaps(x, beats.sample))
    result = Analysis(
        record=record.name, lead=name, source=source, fs=record.fs, duration_s=record.duration_s,
        signal=signal, raw=raw, beats=beats, waves=waves, rr=rr, table=table,
        summary=rhythm_summary(table, broken), agreement=agreement(table), detection=detection, broken=broken,
        quality=quality,
    )
    report(1.0, "done")
    return result
