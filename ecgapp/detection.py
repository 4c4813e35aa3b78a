"""Finding beats in an ECG without annotations, and matching detected beats to reference ones.

``detect_r_peaks`` is the one detection path of the app and the CLI: the QRS detector of ``qrs.py``
(chosen against wfdb's XQRS and GQRS and the textbook Pan-Tompkins by ``benchmarks/bench_detect.py``),
which places each beat on the R peak, the fiducial point of the MIT-BIH reference annotations the
classifier was trained on. ``match_beats`` pairs detections with reference beats (EC57's 150 ms window).
"""

from __future__ import annotations

import numpy as np

from .qrs import detect_qrs

MATCH_TOLERANCE_S = 0.150  # a detection within 150 ms of a reference beat is that beat (EC57 window)


def detect_r_peaks(x: np.ndarray, fs: float, lead: str = "lead") -> np.ndarray:
    """R-peak sample indices (sorted int64, at ``fs``) of one lead ``x`` in mV sampled at ``fs`` Hz.

    Raises InputError (naming ``lead``) when the lead is flat or saturated or no beat is found.
    """
    return detect_qrs(x, fs, lead=lead)


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
