"""Signal processing shared by training, evaluation, the CLI and the app: resampling and filtering.

Arrays in, arrays out. Signals are float arrays in mV shaped (n_samples,) or (n_samples, n_leads);
sampling rates are in Hz; sample indices are integers at the stated rate. NaN marks masked samples
(long gaps, see ``records.repair_gaps``): they stay NaN through every step here.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as sps

MODEL_FS = 360.0  # Hz: every beat the model sees is cut from a signal at this rate (MIT-BIH's own rate)
BANDPASS_HZ = (0.5, 40.0)  # removes baseline wander (< 0.5 Hz), EMG and mains hum (> 40 Hz)
FILTER_ORDER = 4  # Butterworth order per band edge; run forward and backward (zero phase, doubled roll-off)


def _ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """Up/down factors whose ratio approximates fs_out/fs_in within 1e-6 (relative)."""
    frac = Fraction(fs_out / fs_in).limit_denominator(10_000)
    return frac.numerator, frac.denominator


def _fill_nan(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copy of 2-D ``x`` with NaN runs bridged linearly per column (edges held), and the NaN mask."""
    nan = np.isnan(x)
    if not nan.any():
        return x, nan
    x = x.copy()
    idx = np.arange(x.shape[0])
    for j in range(x.shape[1]):
        bad = nan[:, j]
        if bad.all():
            x[:, j] = 0.0
        elif bad.any():
            x[bad, j] = np.interp(idx[bad], idx[~bad], x[~bad, j])
    return x, nan


def resample(x: np.ndarray, fs_in: float, fs_out: float = MODEL_FS) -> np.ndarray:
    """Resample ``x`` (mV, along axis 0) from ``fs_in`` to ``fs_out`` Hz with a polyphase FIR filter.

    Returns float32. Output sample k sits at time k / fs_out s. Masked (NaN) input samples come out as
    NaN at the matching output times, widened by 10 ms so the filter's smearing of the gap edge is hidden.
    """
    if abs(fs_in - fs_out) < 1e-9:
        return np.asarray(x).astype(np.float32)  # a copy, never a float64 one (a Holter lead: 250 MB saved)
    x = np.asarray(x, dtype=np.float64)
    one_d = x.ndim == 1
    x2 = x[:, None] if one_d else x
    up, down = _ratio(fs_in, fs_out)
    filled, nan = _fill_nan(x2)
    y = sps.resample_poly(filled, up, down, axis=0)
    if nan.any():
        n_out = y.shape[0]
        pad = int(round(0.010 * fs_in))
        # prefix sums let us ask "any NaN within +-pad input samples of this output time" in one pass
        cum = np.vstack([np.zeros((1, nan.shape[1])), np.cumsum(nan, axis=0)])
        centre = np.round(np.arange(n_out) * fs_in / fs_out).astype(np.int64)
        lo = np.clip(centre - pad, 0, nan.shape[0])
        hi = np.clip(centre + pad + 1, 0, nan.shape[0])
        y[(cum[hi] - cum[lo]) > 0] = np.nan
    y = y.astype(np.float32)
    return y[:, 0] if one_d else y


def resample_samples(samples: np.ndarray, fs_in: float, fs_out: float = MODEL_FS) -> np.ndarray:
    """Map sample indices at ``fs_in`` to the nearest indices at ``fs_out`` (int64)."""
    return np.round(np.asarray(samples, dtype=np.float64) * (fs_out / fs_in)).astype(np.int64)


@lru_cache(maxsize=32)
def _bandpass_sos(fs: float, low: float, high: float, order: int) -> np.ndarray:
    nyq = fs / 2
    if high >= 0.9 * nyq:  # low sampling rate: only the high-pass part is meaningful
        return sps.butter(order, low, btype="highpass", fs=fs, output="sos")
    return sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


FILTER_BLOCK = 2**21  # samples: a longer stretch is filtered in blocks of this size (a Holter lead: ~15 blocks)
FILTER_MARGIN_S = 30.0  # s of signal on each side of a block, filtered and dropped: the filter's transients
# (slowest pole of the 0.5 Hz high-pass: e-fold 0.8 s) fade to below float32 resolution long before that


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in a 1-D bool array (int8 steps: no int64 copy
    of a 24-hour lead)."""
    if mask.all():
        return np.array([0]), np.array([mask.size])
    zero = np.zeros(1, np.int8)
    edges = np.diff(np.concatenate((zero, mask.view(np.int8), zero)))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _filtfilt(sos: np.ndarray, seg: np.ndarray, fs: float) -> np.ndarray:
    """Zero-phase filter of one stretch of valid samples (float64 in, float64 out)."""
    if seg.size <= 12:
        return seg - np.median(seg)
    return sps.sosfiltfilt(sos, seg, padlen=min(seg.size - 1, int(3 * fs)))  # edge padding of up to 3 s


def bandpass(x: np.ndarray, fs: float, band: tuple[float, float] = BANDPASS_HZ) -> np.ndarray:
    """Zero-phase Butterworth band-pass of ``x`` (mV, along axis 0) at ``fs`` Hz; returns float32 mV.

    Zero phase keeps R peaks where they were, so annotation sample indices stay valid. NaN runs are
    left NaN; each stretch of valid samples between them is filtered on its own. A stretch longer than
    FILTER_BLOCK samples is filtered in blocks, each with FILTER_MARGIN_S of signal on either side, so memory
    stays bounded on a 24-hour lead; the result equals filtering it whole to float32 resolution
    (tests/test_processing.py).
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    one_d = x.ndim == 1
    x2 = x[:, None] if one_d else x
    sos = _bandpass_sos(float(fs), band[0], band[1], FILTER_ORDER)
    margin = int(FILTER_MARGIN_S * fs)
    out = np.full(x2.shape, np.nan, dtype=np.float32)
    for j in range(x2.shape[1]):
        valid = ~np.isnan(x2[:, j])
        for start, end in zip(*true_runs(valid)):
            for a in range(start, end, FILTER_BLOCK):
                b = min(a + FILTER_BLOCK, end)
                lo, hi = (a, b) if end - start <= FILTER_BLOCK else (max(start, a - margin), min(end, b + margin))
                y = _filtfilt(sos, x2[lo:hi, j].astype(np.float64), fs)
                out[a:b, j] = y[a - lo: b - lo]
    return out[:, 0] if one_d else out


def clean(x: np.ndarray, fs: float) -> np.ndarray:
    """The one preprocessing step for display and model: resample to MODEL_FS, then band-pass.

    ``x`` is mV at ``fs`` Hz; the result is float32 mV at MODEL_FS Hz.
    """
    return bandpass(resample(x, fs, MODEL_FS), MODEL_FS)
