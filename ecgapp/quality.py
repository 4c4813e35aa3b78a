"""Signal quality from the beats themselves: does each beat look like this record's dominant beat?

A real ECG repeats one dominant beat shape (with ectopic beats of their own shapes in between); noise that a
QRS detector turns into "beats" does not. ``template_correlation`` is each beat's Pearson correlation with
the record's template (the two channels of ``features.beat_inputs``), a classical template-matching quality
index. Over all 48 MIT-BIH records (detected beats, first lead) the median is 0.82 or more; for white noise
about 0.26, for the nstdb baseline-wander and muscle-noise records 0.17 and 0.33 (electrode-motion noise,
which looks like an ECG, 0.73). ``looks_like_noise`` flags a record below NOISE_MEDIAN_R.
Measured by ``python -m benchmarks.bench_quality``.
"""

from __future__ import annotations

import numpy as np

from . import features

NOISE_MEDIAN_R = 0.6  # median beat-template correlation below which the "beats" are not an ECG's


def template_correlation(waves: np.ndarray) -> np.ndarray:
    """Pearson r (n,) float32 of each beat (waves[:, 0]) with the record's template (waves[:, 1]); 0 for
    flat windows. ``waves``: (n, 2, L) from ``features.beat_inputs``."""
    waves = np.asarray(waves, dtype=np.float32)
    if len(waves) == 0:
        return np.zeros(0, np.float32)
    return np.nan_to_num(features.template_correlation(waves[:, 0], waves[0, 1])).astype(np.float32)


def looks_like_noise(template_r: np.ndarray, min_beats: int = 3) -> bool:
    """True when the beats do not repeat one shape (median correlation below NOISE_MEDIAN_R)."""
    r = np.asarray(template_r)
    return bool(r.size >= min_beats and np.median(r) < NOISE_MEDIAN_R)
