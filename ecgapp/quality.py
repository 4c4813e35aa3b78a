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

from dataclasses import dataclass

import numpy as np

from . import features
from .beats import BeatSet
from .processing import MODEL_FS, bandpass, true_runs

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


# ------------------------------------------------------------------------------ signal quality per stretch
# Is a stretch of a few seconds readable? Four measures per STRETCH_S-second stretch of the lead, combined by a
# logistic model; a stretch scoring above UNREADABLE_SCORE is unreadable: its beats are labelled Q and left out of
# heart rate and burden (``analysis.analyse``). Fitted and measured by ``python -m benchmarks.bench_stretch_quality``
# (benchmarks/results/stretch_quality.md): on DS1 only (the cardiologists' noise marks of MIT-BIH and nstdb muscle
# and electrode-motion noise added to DS1 records at 0 and -6 dB), threshold = the 99.8th percentile of DS1's
# clean stretches; the figures for DS2 there are reported, not used.
STRETCH_S = 5.0  # length of one judged stretch (s); a last part under MIN_STRETCH_S joins the stretch before it
MIN_STRETCH_S = 2.0
MIN_BEATS = 2  # a stretch with fewer beats is never called unreadable (a pause must stay a pause)
NEIGHBOURS = 4  # a beat "repeats" when one of the 4 beats on either side has its shape (bigeminy included)
REPEAT_QUANTILE = 0.75  # a stretch's "repeat" measure: this quantile of its beats' (in a stretch of multiform
# PVCs the normal beats still repeat; in noise none does). Chosen on DS1 against the median (0.5): at the same 0.2%
# of DS1's clean stretches called unreadable, 0.75 catches more noise (DS1 marked noisy 25% vs 22%; em -6 dB 82% vs
# 68%; benchmarks/results/stretch_quality.md)
HF_BAND_HZ = (40.0, 48.0)  # muscle noise, above the ECG's band and below 50/60 Hz mains; inside 64 Hz (128 Hz files)
# logistic model on FEATURES: standardised with MEAN/SD, then COEF and INTERCEPT
FEATURES = ("beat repeats (75th percentile of max r with 4 neighbours)", "log 40-48 Hz rms / beat size",
            "log(kurtosis + 2)", "log range / beat size")  # beat size: features.record_scale
MEAN = np.array([0.8692, -4.4557, 1.8348, 0.4588])
SD = np.array([0.1438, 0.9139, 0.7386, 0.3764])
COEF = np.array([-3.1597, 2.2273, -0.8296, 0.7388])
INTERCEPT = 3.1658
UNREADABLE_SCORE = 3.6327


def beat_repeats(windows: np.ndarray, neighbours: int = NEIGHBOURS, block: int = 8192) -> np.ndarray:
    """Per beat (n,): the highest Pearson r of its window with any of the ``neighbours`` beats on either side
    (-1 when it has none). Real beats repeat (a PVC of a bigeminy matches the PVC two beats away); QRS-like
    noise does not. ``windows``: (n, L) beats of one lead (mV, any scale); ``block`` beats at a time (a 24-hour
    record's 100,000 beats are never copied whole)."""
    windows = np.asarray(windows)
    n = len(windows)
    out = np.full(n, -1.0)
    for a in range(0, n, block):
        lo, hi = max(0, a - neighbours), min(n, a + block + neighbours)  # the block and its neighbours
        w = windows[lo:hi].astype(np.float32)
        w -= w.mean(axis=1, keepdims=True)
        w /= np.sqrt(np.einsum("ij,ij->i", w, w))[:, None] + 1e-12
        best = np.full(hi - lo, -1.0)
        for d in range(1, min(neighbours, hi - lo - 1) + 1):
            r = np.einsum("ij,ij->i", w[d:], w[:-d])
            best[d:] = np.maximum(best[d:], r)
            best[:-d] = np.maximum(best[:-d], r)
        out[a:min(a + block, n)] = best[a - lo: a - lo + min(block, n - a)]
    return out


def stretch_edges(n_samples: int, fs: float, stretch_s: float = STRETCH_S) -> np.ndarray:
    """Sample indices where the stretches start and end (m+1,): STRETCH_S each, the last part joined to the
    stretch before when shorter than MIN_STRETCH_S."""
    step = int(round(stretch_s * fs))
    edges = list(range(0, n_samples, step)) + [n_samples]
    if len(edges) > 2 and edges[-1] - edges[-2] < MIN_STRETCH_S * fs:
        del edges[-2]
    return np.asarray(edges if len(edges) > 1 else [0, n_samples])


def stretch_features(signal: np.ndarray, raw: np.ndarray, beats: BeatSet,
                     fs: float = MODEL_FS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (m, 4) in FEATURES order, beats per stretch (m,), stretch edges (m+1,) in samples at ``fs``).

    ``signal``: the filtered lead (mV, ``processing.clean``) and ``raw`` the unfiltered one, both at ``fs`` Hz
    (the app's ``Analysis.signal`` and ``.raw``); ``beats``: the beats cut from ``signal`` (``extract_beats``)."""
    windows, r_samples = beats.windows, np.round(beats.time_s * fs).astype(np.int64)
    x = np.asarray(signal, dtype=np.float32)
    x = np.nan_to_num(x) if np.isnan(x).any() else x
    edges = stretch_edges(x.size, fs)
    m = edges.size - 1
    height = features.record_scale(windows)  # this patient's typical beat size (mV), as the model's inputs use
    repeats = beat_repeats(windows)
    which = np.searchsorted(edges, np.asarray(r_samples), side="right") - 1
    if HF_BAND_HZ[1] < 0.9 * fs / 2:  # processing.bandpass: zero phase, in blocks (bounded memory on 24 hours)
        hf = bandpass(raw, fs, HF_BAND_HZ)
        hf = np.nan_to_num(hf) if np.isnan(hf).any() else hf
    else:  # no band above the ECG at this rate: no muscle-noise measure
        hf = np.zeros(x.size, np.float32)
    feats = np.zeros((m, 4))
    counts = np.bincount(which[(which >= 0) & (which < m)], minlength=m)
    feats[:, 0] = _quantile_per_stretch(repeats, which, counts, REPEAT_QUANTILE)
    sd_hf, kurt, ptp = _stretch_moments(x, hf, edges)
    feats[:, 1] = np.log(sd_hf / height + 1e-4)
    feats[:, 2] = np.log1p(np.clip(kurt, -1.0, None) + 1.0)
    feats[:, 3] = np.log(ptp / height + 1e-3)
    return feats, counts, edges


def _quantile_per_stretch(values: np.ndarray, which: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile (linear, as np.quantile) of ``values`` (n,) per stretch (``which`` (n,): the stretch of
    each, in order; ``counts`` (m,) per stretch), -1 where a stretch holds none: one sort, no loop."""
    keep = (which >= 0) & (which < counts.size)
    order = np.lexsort((values[keep], which[keep]))
    v = values[keep][order]
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = np.full(counts.size, -1.0)
    has = counts > 0
    pos = q * (counts[has] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, counts[has] - 1)
    frac = pos - lo
    out[has] = v[first[has] + lo] * (1 - frac) + v[first[has] + hi] * frac
    return out


def _stretch_moments(x: np.ndarray, hf: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per stretch: the standard deviation of ``hf``, the excess kurtosis of ``x`` (0 for a flat stretch) and the
    range of ``x``; whole stretches at once (a 24-hour lead has 17,000 of them), the last one on its own."""
    m = edges.size - 1
    step = int(edges[1] - edges[0]) if m > 1 else 0
    full = m - 1 if m > 1 else 0  # every stretch but the last is exactly ``step`` samples long
    sd_hf, kurt, ptp = np.zeros(m), np.zeros(m), np.zeros(m)

    def moments(seg_x: np.ndarray, seg_hf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d = seg_x - seg_x.mean(axis=-1, keepdims=True)
        m2 = (d * d).mean(axis=-1)
        m4 = (d * d * d * d).mean(axis=-1)
        k = np.where(m2 > 0, m4 / np.where(m2 > 0, m2 * m2, 1.0) - 3.0, 0.0)
        return seg_hf.std(axis=-1), k, np.ptp(seg_x, axis=-1)

    for a in range(0, full, 1024):  # 1,024 stretches at a time in float64 (no float64 copy of a whole lead)
        b = min(a + 1024, full)
        sd_hf[a:b], kurt[a:b], ptp[a:b] = moments(x[a * step:b * step].astype(np.float64).reshape(b - a, step),
                                                  hf[a * step:b * step].astype(np.float64).reshape(b - a, step))
    sd_hf[-1], kurt[-1], ptp[-1] = moments(x[edges[-2]:edges[-1]].astype(np.float64),
                                           hf[edges[-2]:edges[-1]].astype(np.float64))
    return sd_hf, kurt, ptp


def stretch_scores(feats: np.ndarray) -> np.ndarray:
    """Logistic score (m,) of each stretch: above UNREADABLE_SCORE = unreadable."""
    return ((np.asarray(feats) - MEAN) / SD) @ COEF + INTERCEPT


@dataclass(frozen=True, eq=False)
class StretchQuality:
    """Per STRETCH_S stretch of one lead: its edges (s), score and whether it is unreadable."""

    start_s: np.ndarray
    end_s: np.ndarray
    score: np.ndarray
    beats: np.ndarray
    unreadable: np.ndarray

    def spans(self) -> list[tuple[float, float]]:
        """The unreadable stretches, neighbours merged: [(start_s, end_s), ...]."""
        if not self.unreadable.any():
            return []
        starts, ends = true_runs(self.unreadable)
        return [(float(self.start_s[a]), float(self.end_s[b - 1])) for a, b in zip(starts, ends)]

    @property
    def unreadable_s(self) -> float:
        """Seconds of the lead found unreadable."""
        return float(np.sum((self.end_s - self.start_s)[self.unreadable]))

    def beats_unreadable(self, times_s: np.ndarray) -> np.ndarray:
        """(n,) True for beats (R-peak times, s) inside an unreadable stretch."""
        t = np.asarray(times_s, dtype=np.float64)
        k = np.clip(np.searchsorted(self.start_s, t, side="right") - 1, 0, max(len(self.start_s) - 1, 0))
        return self.unreadable[k] if len(self.start_s) else np.zeros(t.size, bool)


def stretch_quality(signal: np.ndarray, raw: np.ndarray, beats: BeatSet, fs: float = MODEL_FS) -> StretchQuality:
    """Judge every STRETCH_S-second stretch of a lead (arguments as ``stretch_features``)."""
    feats, counts, edges = stretch_features(signal, raw, beats, fs)
    score = stretch_scores(feats)
    return StretchQuality(start_s=edges[:-1] / fs, end_s=edges[1:] / fs, score=score, beats=counts,
                          unreadable=(score > UNREADABLE_SCORE) & (counts >= MIN_BEATS))
