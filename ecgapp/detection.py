"""Finding beats in an ECG without annotations, and matching detected beats to reference ones.

``detect_r_peaks`` is the one detection path of the app and the CLI. For now it runs wfdb's XQRS on the
cleaned lead and moves each detection onto the R peak (the fiducial point of the MIT-BIH reference
annotations that the classifier was trained on); a measured, faster detector replaces XQRS in the
QRS-detection work, behind the same function.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .processing import MODEL_FS, clean, resample_samples

MATCH_TOLERANCE_S = 0.150  # a detection within 150 ms of a reference beat is that beat (EC57 window)
REFINE_HALF_WIDTH_S = 0.080  # detections are moved to the R peak within +-80 ms
MIN_LEAD_SPREAD_MV = 0.02  # below this robust peak-to-peak amplitude a lead holds no usable ECG


def refine_to_r_peak(x: np.ndarray, peaks: np.ndarray, half_width: int) -> np.ndarray:
    """Move each peak (sample index into cleaned ``x``) to the largest deflection within +-half_width.

    The deflection's sign is the lead's dominant QRS polarity (the sign of the larger median extreme
    over all peaks), so an inverted lead still lands on its (negative) R wave. Returns sorted unique int64.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    if peaks.size == 0:
        return peaks
    offsets = np.arange(-half_width, half_width + 1)
    idx = np.clip(peaks[:, None] + offsets[None, :], 0, x.size - 1)
    seg = np.nan_to_num(x[idx])
    polarity = 1.0 if np.median(seg.max(axis=1)) >= -np.median(seg.min(axis=1)) else -1.0
    return np.unique(idx[np.arange(peaks.size), np.argmax(polarity * seg, axis=1)])


def detect_r_peaks(x: np.ndarray, fs: float, lead: str = "lead") -> np.ndarray:
    """R-peak sample indices (int64, at ``fs``) of one lead ``x`` in mV sampled at ``fs`` Hz.

    Raises InputError when the lead is flat (no usable amplitude) or no beat is found.
    """
    y = clean(np.asarray(x, dtype=np.float32), fs)
    valid = y[np.isfinite(y)]
    if valid.size == 0:
        raise InputError(f"{lead}: no valid samples to detect beats in")
    spread = float(np.percentile(valid, 99.5) - np.percentile(valid, 0.5))
    if spread < MIN_LEAD_SPREAD_MV:
        raise InputError(f"{lead}: the lead is flat (amplitude range {spread * 1000:.1f} uV); no beats can be "
                         f"detected; pick another lead")
    from wfdb import processing

    peaks = processing.xqrs_detect(np.nan_to_num(y), MODEL_FS, verbose=False)
    peaks = refine_to_r_peak(y, peaks, int(round(REFINE_HALF_WIDTH_S * MODEL_FS)))
    if peaks.size:
        peaks = peaks[np.isfinite(y[peaks])]
    if peaks.size == 0:
        raise InputError(f"{lead}: no heartbeats were detected")
    out = np.unique(resample_samples(peaks, MODEL_FS, fs))
    return out[(out >= 0) & (out < len(x))]


def match_beats(reference: np.ndarray, detected: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair detected with reference beat samples at most ``tolerance`` samples apart, nearest first.

    Returns (ref_index, det_index): int64 arrays of matched positions into the two sorted inputs; each
    beat is used at most once. Unmatched reference beats are misses, unmatched detections false alarms.
    """
    ref = np.asarray(reference, dtype=np.int64)
    det = np.asarray(detected, dtype=np.int64)
    if ref.size == 0 or det.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # candidate pairs: each detection with its nearest reference beat on either side
    pos = np.searchsorted(ref, det)
    cand_r = np.concatenate([np.clip(pos - 1, 0, ref.size - 1), np.clip(pos, 0, ref.size - 1)])
    cand_d = np.concatenate([np.arange(det.size), np.arange(det.size)])
    dist = np.abs(ref[cand_r] - det[cand_d])
    keep = dist <= tolerance
    cand_r, cand_d, dist = cand_r[keep], cand_d[keep], dist[keep]
    order = np.argsort(dist, kind="stable")
    used_r = np.zeros(ref.size, bool)
    used_d = np.zeros(det.size, bool)
    pairs = []
    for i in order:  # greedy, nearest pairs first; at most 2 per detection
        r, d = cand_r[i], cand_d[i]
        if not used_r[r] and not used_d[d]:
            used_r[r] = used_d[d] = True
            pairs.append((r, d))
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs.sort()
    a = np.asarray(pairs, dtype=np.int64)
    return a[:, 0], a[:, 1]
