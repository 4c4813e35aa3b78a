"""What a clinician reads first: beats per class, heart rate, ectopic burden, agreement with a reference.

All functions take the beats table of ``inference.beats_table`` (one row per beat: ``time_s``, ``label``,
``reference`` ...) and return plain numbers, so the app, the CLI and tests share them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .aami import AAMI_CLASSES
from .metrics import AamiReport, aami_report
from .quality import looks_like_noise

HR_SMOOTHING_BEATS = 5  # min/max heart rate: running median of 5 RR intervals, so one ectopic beat is no "max HR"


def heart_rate(times_s: np.ndarray, broken: np.ndarray | None = None) -> dict[str, float]:
    """Mean, min and max heart rate in beats per minute from R-peak times (s).

    mean = 60 / mean RR; min/max from the running median of HR_SMOOTHING_BEATS RR intervals. ``broken``
    (n-1 bools) marks intervals that span missing data; they are left out. NaN when fewer than 2 beats.
    """
    rr = np.diff(np.asarray(times_s, dtype=np.float64))
    if broken is not None:
        rr = rr[~np.asarray(broken, dtype=bool)]
    rr = rr[rr > 0]
    if rr.size == 0:
        return {"mean": math.nan, "min": math.nan, "max": math.nan}
    k = min(HR_SMOOTHING_BEATS, rr.size)
    smooth = pd.Series(rr).rolling(k, center=True, min_periods=k).median().dropna().to_numpy()
    return {"mean": 60.0 / rr.mean(), "min": 60.0 / smooth.max(), "max": 60.0 / smooth.min()}


def rhythm_summary(table: pd.DataFrame, broken: np.ndarray | None = None) -> dict:
    """Beats per predicted class, total, heart rate (bpm), ectopic burden (% of the readable beats labelled S, V:
    beats in unreadable stretches, the table's ``unreadable`` column, are left out), how many are unreadable, and
    the share of beats whose rhythm reads as atrial fibrillation (``af_pct``, % of beats; from the table's
    ``af`` column, 0 without one), the median beat-template correlation and whether the "beats" look like
    noise rather than an ECG (``quality.looks_like_noise``; from ``template_r``, NaN / False without it)."""
    counts = {c: int((table["label"] == c).sum()) for c in AAMI_CLASSES}
    n = int(len(table))
    readable = ~table["unreadable"].to_numpy(bool) if "unreadable" in table else np.ones(n, bool)
    af = int(table["af"].sum()) if "af" in table else 0
    r = table["template_r"].to_numpy(dtype=float) if "template_r" in table else np.zeros(0)
    return {
        "beats": n, "counts": counts, "heart_rate_bpm": heart_rate(table["time_s"].to_numpy(), broken),
        "burden_pct": {c: (100.0 * int(((table["label"] == c).to_numpy() & readable).sum()) / readable.sum()
                           if readable.any() else math.nan) for c in ("S", "V")},
        "unreadable_beats": int(n - readable.sum()),
        "af_pct": 100.0 * af / n if n else math.nan,
        "template_r_median": float(np.nanmedian(r)) if r.size and np.isfinite(r).any() else math.nan,
        "looks_like_noise": looks_like_noise(r[np.isfinite(r)]),
    }


def agreement(table: pd.DataFrame) -> AamiReport | None:
    """AAMI statistics of predicted vs reference labels over the beats that have a reference; None if none do."""
    ref = table["reference"].fillna("").astype(str)
    has = ref.isin(AAMI_CLASSES)
    if not has.any():
        return None
    index = {c: i for i, c in enumerate(AAMI_CLASSES)}
    return aami_report(ref[has].map(index).to_numpy(), table.loc[has, "label"].map(index).to_numpy())


def agreement_frames(report: AamiReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-class Se / +P / F1 / reference beats, confusion matrix) as tables for display."""
    stats = pd.DataFrame({"Se": report.se, "+P": report.ppv, "F1": report.f1, "reference beats": report.support})
    matrix = pd.DataFrame(report.matrix, index=[f"ref {c}" for c in AAMI_CLASSES],
                          columns=[f"pred {c}" for c in AAMI_CLASSES])
    return stats, matrix


LOW_CONFIDENCE = 0.6  # a beat labelled with less than this probability is a "low-confidence" beat
LOW_CONFIDENCE_SHARE = 0.10  # ... and more than this share of them makes the record look unlike the training data
V_LIKE_DOMINANT_R = 0.9  # median correlation of the V beats with the record's dominant beat above this: suspicious
HIGH_S_BURDEN_PCT = 20.0  # no training patient has more than about 13% S beats (209)
LOW_AGREEMENT = 0.9
ON_TIME_V_NOTE = 20  # at least this many beats the network read as V but the on-time V gate labelled N: say so
SV_RUN_NOTE = 3  # at least this many beats the supraventricular run rule labelled S: say so
FAR_SHAPE_NOTE = 10  # at least this many beats the far-shape step labelled V: say so
ON_TIME_S_NOTE = 20  # at least this many beats the network read as S but the on-time S gate labelled N: say so


# the steps of the decision rule that change labels by rhythm, and what the app says when at least `minimum` beats
# still show the label a step gave: (beats table column, label, minimum, note with {n})
RULE_NOTES = (
    ("on_time_v", "N", ON_TIME_V_NOTE,
     "{n:,} beats the network read as ventricular came on time (not early, no pause after them, at this patient's "
     "usual rate), so the decision rule labelled them N: across patients such beats were mostly wide conducted beats "
     "or noise, but late-cycle PVCs also come on time (on DS2, 213's ventricular beats found fell from 214 to 78 of "
     "220). If this patient has them, check these beats (the beats table sorted \"on-time V first\", or its "
     "on_time_v column) or relabel their template."),
    ("sv_run", "S", SV_RUN_NOTE,
     "{n:,} beats the network read as N lie in fast runs that start abruptly and that it reads as supraventricular, "
     "so the decision rule labelled them S (a supraventricular tachycardia's beats are S; the network loses a run's "
     "onset a few beats in). If a run is sinus tachycardia or atrial flutter, relabel it (the beats table sorted "
     "\"SV run first\", or its sv_run column)."),
    ("far_shape", "V", FAR_SHAPE_NOTE,
     "{n:,} beats the network read as supraventricular have a QRS complex far from every normal QRS of this patient (the "
     "median QRS of their template against each normal template's, not the whole beat window), so the "
     "decision rule labelled them V (a supraventricular beat keeps the normal QRS; premature beats or runs of another "
     "shape are ventricular until shown otherwise). Aberrantly conducted atrial beats look like this too: if a P wave precedes them, relabel "
     "them S (the beats table sorted \"far shape first\", or its far_shape column)."),
    ("on_time_s", "N", ON_TIME_S_NOTE,
     "{n:,} beats the network read as supraventricular came neither early against the local rhythm nor fast for this "
     "patient, so the decision rule labelled them N (AAMI's S is the premature supraventricular beat; one that comes "
     "on time is an escape beat, N). Premature beats that are only slightly early, or an ectopic atrial rhythm you "
     "want marked, look like this too: check these beats (the beats table sorted \"on-time S first\", or its "
     "on_time_s column) or relabel their template."),
)


def ruled(table: pd.DataFrame, column: str, label: str) -> int:
    """How many beats a step of the decision rule (the beats table's bool ``column``: on_time_v, sv_run, far_shape,
    on_time_s) gave ``label`` and still show it (a reader may have relabelled them since); 0 when the table has no such column."""
    if column not in table:
        return 0
    return int((table[column].to_numpy(bool) & (table["label"] == label).to_numpy()).sum())


def trust_notes(table: pd.DataFrame, report: AamiReport | None = None) -> list[str]:
    """Plain-language warnings when a record's labels deserve less trust than usual (empty when none apply):
    many low-confidence beats (the ECG looks unlike the training data), ventricular labels on beats shaped like
    the record's dominant beat over the whole window (leaving out the beats the far-shape step made V: their QRS
    was measured directly, and a noisy window can still correlate well), a supraventricular burden beyond anything
    met in training, enough beats still carrying the label a step of the decision rule gave them (RULE_NOTES: the
    on-time V and S gates, the run rule, the far-shape step), and low agreement with the reference (``report``:
    ``agreement``). Thresholds above; read from the beats table only."""
    notes = []
    n = len(table)
    if n == 0:
        return notes
    low = float((table["confidence"] < LOW_CONFIDENCE).mean())
    if low >= LOW_CONFIDENCE_SHARE:
        notes.append(f"{100 * low:.0f}% of beats were labelled with less than {100 * LOW_CONFIDENCE:.0f}% confidence: "
                     f"this ECG looks unlike the model's training data; check the labels before using them.")
    v_label = (table["label"] == "V").to_numpy()
    if "far_shape" in table:  # their QRS was measured against the normal shapes directly (the far-shape note)
        v_label = v_label & ~table["far_shape"].to_numpy(bool)
    v = table[v_label]
    if len(v) >= 20 and "template_r" in table and float(np.nanmedian(v["template_r"])) >= V_LIKE_DOMINANT_R:
        notes.append(f"{len(v):,} beats labelled V look like this record's dominant beat over the whole beat window "
                     f"(median correlation {float(np.nanmedian(v['template_r'])):.2f}): ventricular beats usually look "
                     f"different; they may be supraventricular beats or noise.")
    s_pct = 100.0 * float((table["label"] == "S").mean())
    if s_pct >= HIGH_S_BURDEN_PCT:
        notes.append(f"{s_pct:.0f}% of beats labelled S: more than in any patient the model was trained on (at most "
                     f"about 13%); supraventricular labels here are less reliable.")
    for column, label, minimum, text in RULE_NOTES:
        n = ruled(table, column, label)
        if n >= minimum:
            notes.append(text.format(n=n))
    if report is not None and report.accuracy < LOW_AGREEMENT:
        notes.append(f"The labels agree with the reference annotations on only {100 * report.accuracy:.0f}% of beats "
                     f"(see the agreement table).")
    return notes
