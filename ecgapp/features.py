"""Model inputs from beats: the one function that turns a BeatSet into the arrays the network reads.

Training, evaluation, the CLI and the app all call ``beat_inputs``; nothing else scales beats.

Inputs that travel between patients and recorders: every beat is read beside this patient's own dominant
beat (``record_template``) and scaled by this patient's typical beat size (``record_scale``), and its
timing is read against this patient's own rhythm (``beats.rr_features``: RR over the record's median and
over the local mean).
"""

from __future__ import annotations

import numpy as np

from .beats import BeatSet

MIN_SCALE_MV = 0.1  # floor for a record's beat amplitude (guards against flat or near-flat leads)
TEMPLATE_ROUNDS = 2  # re-medians of the dominant template over the beats most like it
TEMPLATE_KEEP = 0.5  # share of beats (the most correlated with the current template) kept each round


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


def record_template(waves: np.ndarray) -> np.ndarray:
    """This record's dominant beat shape, (L,) float32 in the units of ``waves`` ((n, 1, L) or (n, L)).

    The sample-wise median of all beats, then (TEMPLATE_ROUNDS times) the median of the half of the beats
    most correlated with it: with 30-50% ectopic beats (bigeminy) the template still settles on the
    commonest shape instead of a blend. Zeros for a record without beats.
    """
    w = np.asarray(waves, dtype=np.float32)
    if len(w) == 0:
        return np.zeros(w.shape[-1], np.float32)
    w = w.reshape(len(w), -1)
    template = np.median(w, axis=0)
    for _ in range(TEMPLATE_ROUNDS):
        if len(w) < 4:
            break
        corr = template_correlation(w, template)
        keep = corr >= np.quantile(corr, 1 - TEMPLATE_KEEP)
        template = np.median(w[keep], axis=0)
    return template.astype(np.float32)


def template_correlation(beats: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Pearson correlation (n,) of each row of ``beats`` (n, L) with ``template`` (L,); 0 for a flat row."""
    a = beats - beats.mean(axis=1, keepdims=True)
    t = template - template.mean()
    return a @ t / (np.linalg.norm(a, axis=1) * np.linalg.norm(t) + 1e-9)


def with_template(waves: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(n, 1, L) beats -> (n, 2, L): channel 0 the beat, channel 1 the record's template beside it."""
    n, _, length = waves.shape
    return np.concatenate([waves, np.broadcast_to(template.reshape(1, 1, length), (n, 1, length))], axis=1)


def rr_inputs(rr: np.ndarray) -> np.ndarray:
    """The RR context columns (see beats.RR_FEATURES) with unknown seconds (a one-beat record) set to 1 s."""
    return np.nan_to_num(rr, nan=1.0).astype(np.float32)


def beat_inputs(beats: BeatSet) -> tuple[np.ndarray, np.ndarray]:
    """(waves (n, 2, WINDOW_LENGTH) float32, rr (n, 10) float32) for the model, from one record's beats.

    waves[:, 0] is each beat minus its median over the record's typical beat size; waves[:, 1] is the
    record's dominant beat (``record_template``) in the same units, the same for every beat. Beats are in
    time order: the sequence model reads each beat with its neighbours.
    """
    waves = normalise_waves(beats.windows, record_scale(beats.windows))
    return with_template(waves, record_template(waves)), rr_inputs(beats.rr)
