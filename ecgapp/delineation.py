"""Where the waves of one beat are: QRS onset and offset found on the beat itself, and a P wave only when one is there.

Used to name the regions of an explanation (``explain.beat_regions``): a fixed "-250..-70 ms = P wave" window
told clinicians that a PVC had "P wave evidence"; here the regions come from the beat.

``delineate`` works on one beat window (the model's: WINDOW_LENGTH samples at MODEL_FS Hz, R peak at column
WINDOW_BEFORE; any amplitude unit, thresholds are relative to the beat's own QRS):

- QRS: the slope envelope (|derivative| of the beat smoothed over 14 ms) around the R peak; the complex spans
  from where the slope first rises above QRS_SLOPE of its peak before the strong part (above STRONG_SLOPE) to
  where it falls below it after.
- P wave: in the 250 ms before QRS onset (ending 20 ms before it, and not inside the previous beat's T
  wave), the largest deflection from the straight line
  joining the segment's ends; a P wave when it is at least P_MIN_SHARE of the QRS amplitude and 30-160 ms wide
  at half height. Otherwise there is no P wave to name (ventricular beats, atrial fibrillation, noise).
"""

from __future__ import annotations

import numpy as np

from .beats import WINDOW_BEFORE
from .processing import MODEL_FS

SMOOTH_S = 0.014
QRS_SLOPE = 0.12  # share of the peak slope below which the QRS has begun / ended
STRONG_SLOPE = 0.35  # share of the peak slope that marks the QRS's steep part
QRS_SEARCH_S = 0.2  # the steep part is looked for this far either side of the R peak
P_SEARCH_S = (0.25, 0.02)  # the P wave is looked for from 250 ms to 20 ms before QRS onset
P_MIN_SHARE = 0.07  # P deflection at least this share of the QRS peak-to-peak amplitude
P_WIDTH_S = (0.03, 0.16)  # P width at half its height
PREVIOUS_T_S = 0.45  # the previous beat's QRS and T wave last this long after its R peak


def delineate(wave: np.ndarray, fs: float = MODEL_FS, r_index: int = WINDOW_BEFORE,
              pre_rr_s: float | None = None) -> dict:
    """``{"qrs_onset_s", "qrs_offset_s", "p_wave": (start_s, end_s) or None}``, seconds from the R peak.
    ``pre_rr_s``: the interval from the previous beat, when known: the P wave is not looked for inside the
    previous beat's T wave (up to PREVIOUS_T_S after its R peak), which an early beat's window holds."""
    x = np.nan_to_num(np.asarray(wave, dtype=float).reshape(-1))
    n = x.size
    k = max(1, int(round(SMOOTH_S * fs)))
    smooth = np.convolve(x, np.ones(k) / k, mode="same")
    slope = np.abs(np.gradient(smooth))
    reach = int(QRS_SEARCH_S * fs)
    lo, hi = max(r_index - reach, 1), min(r_index + reach, n - 2)
    peak = float(slope[lo:hi + 1].max()) if hi > lo else 0.0
    if peak <= 0:
        return {"qrs_onset_s": -0.05, "qrs_offset_s": 0.05, "p_wave": None}
    strong = np.flatnonzero(slope[lo:hi + 1] >= STRONG_SLOPE * peak) + lo
    first, last = int(strong[0]), int(strong[-1])
    onset = first
    while onset > 1 and slope[onset - 1] >= QRS_SLOPE * peak:
        onset -= 1
    offset = last
    while offset < n - 2 and slope[offset + 1] >= QRS_SLOPE * peak:
        offset += 1
    qrs_amp = float(x[onset:offset + 1].max() - x[onset:offset + 1].min()) if offset > onset else 0.0
    p_wave = None
    a, b = onset - int(P_SEARCH_S[0] * fs), onset - int(P_SEARCH_S[1] * fs)
    a = max(a, 0)
    if pre_rr_s is not None and np.isfinite(pre_rr_s):
        a = max(a, r_index - int((pre_rr_s - PREVIOUS_T_S) * fs))
    if b - a >= int(P_WIDTH_S[0] * fs) * 2 and qrs_amp > 0:
        seg = smooth[a:b]
        line = np.linspace(seg[0], seg[-1], seg.size)
        dev = seg - line
        i = int(np.argmax(np.abs(dev)))
        height = float(dev[i])
        if abs(height) >= P_MIN_SHARE * qrs_amp:
            above = np.abs(dev) >= abs(height) / 2
            above &= np.sign(dev) == np.sign(height)
            left, right = i, i
            while left > 0 and above[left - 1]:
                left -= 1
            while right < seg.size - 1 and above[right + 1]:
                right += 1
            width = (right - left + 1) / fs
            if P_WIDTH_S[0] <= width <= P_WIDTH_S[1] and left > 0 and right < seg.size - 1:
                start = max(a + left - (right - left + 1) // 2, 0)
                p_wave = ((start - r_index) / fs, (onset - r_index) / fs)
    return {"qrs_onset_s": (onset - r_index) / fs, "qrs_offset_s": (offset - r_index) / fs, "p_wave": p_wave}
