"""Model inputs from beats: the one function that turns a BeatSet into the arrays the network reads.

Training, evaluation, the CLI and the app all call ``beat_inputs``; nothing else scales beats.
"""

from __future__ import annotations

import numpy as np

from .beats import BeatSet

MIN_SCALE_MV = 0.1  # floor for a record's beat amplitude (guards against flat or near-flat leads)


def record_scale(windows: np.ndarray) -> float:
    """A record's typical beat size in mV: the median peak-to-peak amplitude of its beat windows."""
    if len(windows) == 0:
        return 1.0
    return max(float(np.median(np.ptp(windows, axis=1))), MIN_SCALE_MV)


def normalise_waves(windows: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    """Windows (n, L) in mV -> (n, 1, L) float32: each minus its median, divided by ``scale`` (mV).

    Dividing by the record's typical beat size (not each beat's own) keeps what matters clinically: a
    ventricular beat that is twice as tall as this patient's normal beats still looks twice as tall.
    """
    w = windows - np.median(windows, axis=1, keepdims=True)
    scale = np.asarray(scale, dtype=np.float32)
    if scale.ndim == 1:
        scale = scale[:, None]
    return (w / scale).astype(np.float32)[:, None, :]


def rr_inputs(rr: np.ndarray) -> np.ndarray:
    """The RR context columns (see beats.RR_FEATURES) with unknown seconds (a one-beat record) set to 1 s."""
    return np.nan_to_num(rr, nan=1.0).astype(np.float32)


def beat_inputs(beats: BeatSet) -> tuple[np.ndarray, np.ndarray]:
    """(waves (n, 1, WINDOW_LENGTH) float32, rr (n, 8) float32) for the model, from one record's beats."""
    return normalise_waves(beats.windows, record_scale(beats.windows)), rr_inputs(beats.rr)
