"""QRS detection: an envelope detector of the Pan-Tompkins family, vectorised with numpy, in bounded memory.

Steps (arrays in, arrays out; ``x`` in mV at ``fs`` Hz; indices are samples):

1. ``qrs_envelope``: on the cleaned 360 Hz signal, band-pass 5-20 Hz (the QRS band), differentiate,
   square, average over 120 ms (centred, so no delay) and take the square root: one bump per QRS complex,
   proportional to its amplitude.
2. ``candidate_peaks``: local maxima of the envelope at least 200 ms apart (the higher wins).
3. ``select_beats``: Pan-Tompkins' adaptive threshold over the candidates (running signal and noise
   levels); competition (two candidates within 300 ms, or half the mean RR when the rhythm is fast, are
   one beat: the higher); T-wave rejection (a peak within 360 ms of a beat with under half its slope);
   search-back (while 1.66 mean RR pass without a beat, the largest candidate above half the threshold).
4. Each beat is moved to the R peak of the cleaned signal (``processing.clean``, which the classifier cuts
   its windows from): the largest deflection of the lead's dominant polarity within 80 ms, the fiducial
   point of the MIT-BIH reference annotations.

Long records are cut into 5-minute blocks with 3 s margins, so memory stays bounded (a 24-hour record needs
the arrays of one block plus a few floats per candidate). Flat and saturated leads are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from .errors import InputError
from .processing import MODEL_FS, bandpass, clean, resample_samples

R_SEARCH_S = 0.080  # the R peak is looked for within +-80 ms of the envelope's peak
BLOCK_S = 300.0
MARGIN_S = 3.0
MIN_SPREAD_MV = 0.02  # a lead whose robust amplitude range is below 20 uV holds no ECG
SATURATED_SHARE = 0.10  # a lead with more than 10% of its samples pinned at its extremes is clipped


@dataclass(frozen=True)
class QrsSettings:
    """The detector's parameters. The defaults are ours (chosen on the 48 MIT-BIH records, README
    "Beat detection"); ``PAN_TOMPKINS`` holds the textbook values (Pan & Tompkins 1985) for comparison."""

    band_hz: tuple[float, float] = (5.0, 20.0)  # QRS band
    window_s: float = 0.120  # envelope averaging window
    envelope: str = "rms"  # "rms": sqrt of the mean squared slope (mV/s); "energy": the mean square ((mV/s)^2)
    refractory_s: float = 0.200  # no two candidates closer than this (rates up to 300 bpm)
    compete_s: float = 0.300  # a candidate this soon after a beat (at most compete_rr of the mean RR) replaces
    compete_rr: float = 0.5  # it if higher, else is dropped: P waves stop counting, fast rhythms keep every beat
    threshold_fraction: float = 0.30  # threshold = noise level + this share of (signal level - noise level)
    t_wave_s: float = 0.360  # a candidate this soon after a beat, with under half its slope, is a T wave
    searchback_rr: float = 1.66  # after this many mean RR without a beat, search back at half the threshold


DEFAULT_SETTINGS = QrsSettings()
PAN_TOMPKINS = QrsSettings(band_hz=(5.0, 15.0), window_s=0.150, envelope="energy", refractory_s=0.200,
                           compete_s=0.0, threshold_fraction=0.25)


def qrs_envelope(x: np.ndarray, fs: float = MODEL_FS, settings: QrsSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """QRS envelope (float32) of ``x`` (mV at ``fs`` Hz, no NaN), at ``fs``.

    The mean squared QRS-band slope over ``window_s``, centred ("energy", (mV/s)^2), or its square root
    ("rms", mV/s): proportional to amplitude, so a beat half as tall gives half the height, not a quarter.
    """
    y = bandpass(x, fs, settings.band_hz)
    d = np.gradient(y.astype(np.float64)) * fs
    e = uniform_filter1d(d * d, size=max(1, int(round(settings.window_s * fs))), mode="nearest")
    return (np.sqrt(np.maximum(e, 0.0)) if settings.envelope == "rms" else e).astype(np.float32)


def candidate_peaks(envelope: np.ndarray, fs: float = MODEL_FS,
                    settings: QrsSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Local maxima of the envelope at least ``refractory_s`` apart (int64 indices)."""
    peaks, _ = sps.find_peaks(envelope, distance=max(1, int(round(settings.refractory_s * fs))))
    return peaks.astype(np.int64)


def select_beats(times_s: np.ndarray, heights: np.ndarray, slopes: np.ndarray,
                 settings: QrsSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Pan-Tompkins decision over candidate peaks: the indices of the candidates that are beats.

    ``times_s``: candidate times (s, sorted); ``heights``: their envelope; ``slopes``: their largest
    QRS-band slope (for T-wave rejection). The levels start from the first 2 s and adapt to every decision.
    """
    n = times_s.size
    if n == 0:
        return np.zeros(0, np.int64)
    spk = 0.5 * float(heights[times_s < times_s[0] + 2.0].max())
    npk = min(0.5 * float(np.median(heights[: min(n, 16)])), 0.5 * spk)
    beats: list[int] = []
    rr: list[float] = []
    last_checked = 0  # search-back never looks again at candidates it has already turned down

    def threshold() -> float:
        return npk + settings.threshold_fraction * (spk - npk)

    for i in range(n):
        t, h = times_s[i], heights[i]
        while beats and rr:  # search-back, repeated while a gap longer than searchback_rr mean RR is left
            prev_t = times_s[beats[-1]]
            if t - prev_t <= settings.searchback_rr * float(np.mean(rr[-8:])):
                break
            between = np.arange(max(beats[-1] + 1, last_checked), i)
            gap = times_s[between] - prev_t
            t_wave = (gap < settings.t_wave_s) & (slopes[between] < 0.5 * slopes[beats[-1]])
            between = between[(gap > settings.refractory_s) & ~t_wave & (heights[between] > 0.5 * threshold())]
            if between.size == 0:
                last_checked = i
                break
            j = int(between[np.argmax(heights[between])])
            beats.append(j)
            rr.append(times_s[j] - prev_t)
            spk = 0.25 * heights[j] + 0.75 * spk
        if h > threshold():
            if beats and settings.compete_s > 0:
                gap = t - times_s[beats[-1]]
                window = settings.compete_s
                if rr:
                    window = min(window, settings.compete_rr * float(np.mean(rr[-8:])))
                if gap < window:  # two candidates this close are one beat: keep the higher
                    if h > heights[beats[-1]]:
                        beats.pop()
                        if rr:
                            rr.pop()
                    else:
                        npk = 0.125 * h + 0.875 * npk
                        continue
            if beats:
                gap = t - times_s[beats[-1]]
                if gap < settings.t_wave_s and slopes[i] < 0.5 * slopes[beats[-1]]:  # a T wave
                    npk = 0.125 * h + 0.875 * npk
                    continue
                rr.append(gap)
            beats.append(i)
            spk = 0.125 * h + 0.875 * spk
        else:
            npk = 0.125 * h + 0.875 * npk
    return np.asarray(beats, dtype=np.int64)


def lead_problem(x: np.ndarray) -> str | None:
    """Why a lead (mV) cannot hold a detectable ECG (flat, saturated, empty); None if it looks usable.

    Judged on at most ~1 million evenly spaced samples, so a 24-hour lead costs no more memory than a short one.
    """
    step = max(1, x.size // 1_000_000)
    sample = x[::step]
    valid = sample[np.isfinite(sample)]
    if valid.size == 0:
        return "no valid samples"
    lo, hi = np.percentile(valid, [0.5, 99.5])
    if hi - lo < MIN_SPREAD_MV:
        return f"the lead is flat (amplitude range {1000 * (hi - lo):.1f} uV)"
    pinned = float(np.mean((valid <= np.nanmin(x)) | (valid >= np.nanmax(x))))
    if pinned > SATURATED_SHARE:
        return (f"the lead is saturated ({100 * pinned:.0f}% of its samples sit at its minimum or maximum: "
                f"the amplifier clipped)")
    return None


def _blocks(n: int, fs: float):
    """(lo, hi, keep_from, keep_to): overlapping sample ranges that cover 0..n, and the part each keeps."""
    size, margin = int(BLOCK_S * fs), int(MARGIN_S * fs)
    for start in range(0, n, size):
        yield max(0, start - margin), min(n, start + size + margin), start, min(n, start + size)


def detect_qrs(x: np.ndarray, fs: float, lead: str = "lead", settings: QrsSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """R-peak sample indices (sorted int64, at ``fs``) of one lead ``x`` in mV sampled at ``fs`` Hz.

    Masked (NaN) stretches hold no beats. Raises InputError for a flat or saturated lead, or when no beat
    is found.
    """
    x = np.asarray(x, dtype=np.float32)
    problem = lead_problem(x)
    if problem:
        raise InputError(f"{lead}: {problem}; no beats can be detected; pick another lead")
    half = int(round(R_SEARCH_S * MODEL_FS))
    offsets = np.arange(-half, half + 1)
    times, heights, slopes, ups, downs, lobes = [], [], [], [], [], []
    for lo, hi, keep_from, keep_to in _blocks(x.size, fs):
        y = clean(x[lo:hi], fs)  # 360 Hz, 0.5-40 Hz: what the classifier sees
        nan = np.isnan(y)
        y = np.where(nan, 0.0, y)
        env = qrs_envelope(y, MODEL_FS, settings)
        env[nan] = 0.0
        peaks = candidate_peaks(env, MODEL_FS, settings)
        scale = MODEL_FS / fs
        peaks = peaks[(peaks >= (keep_from - lo) * scale) & (peaks < (keep_to - lo) * scale)]
        slope = np.abs(np.gradient(bandpass(y, MODEL_FS, settings.band_hz)))
        idx = np.clip(peaks[:, None] + offsets[None, :], 0, y.size - 1)
        around = y[idx]
        times.append((peaks + lo * scale) / MODEL_FS)
        heights.append(env[peaks])
        slopes.append(slope[idx].max(axis=1))
        ups.append(around.argmax(axis=1) - half)  # where the R peak is for each polarity
        downs.append(around.argmin(axis=1) - half)
        lobes.append(np.stack([around.max(axis=1), -around.min(axis=1)], axis=1))
    t = np.concatenate(times)
    keep = select_beats(t, np.concatenate(heights), np.concatenate(slopes), settings)
    if keep.size == 0:
        raise InputError(f"{lead}: no heartbeats were detected")
    lobe = np.concatenate(lobes)[keep]
    positive = np.median(lobe[:, 0]) >= np.median(lobe[:, 1])  # the lead's dominant QRS polarity
    shift = np.concatenate(ups if positive else downs)[keep]
    at360 = np.round(t[keep] * MODEL_FS).astype(np.int64) + shift
    out = np.unique(resample_samples(at360, MODEL_FS, fs))
    out = out[(out >= 0) & (out < x.size)]
    return out[np.isfinite(x[out])]
