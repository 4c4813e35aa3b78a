"""Beats: fixed-length waveform windows around R peaks plus rhythm (RR-interval) context.

``extract_beats`` is the single path from a Record and R-peak locations to model inputs; training,
evaluation, the CLI and the app all call it. Windows are cut from the cleaned signal at
``processing.MODEL_FS`` (360 Hz), so every beat has the same length whatever the input's rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .aami import aami_index, is_beat
from .errors import InputError
from .processing import MODEL_FS, clean, resample_samples
from .records import Record

WINDOW_BEFORE = 90  # samples at MODEL_FS before the R peak: 0.25 s, holds the P wave
WINDOW_AFTER = 166  # samples from the R peak on: 0.461 s, holds QRS and T wave
WINDOW_LENGTH = WINDOW_BEFORE + WINDOW_AFTER  # 256 samples = 0.711 s
LOCAL_RR_INTERVALS = 10  # local mean RR: the 10 RR intervals centred on the beat (de Chazal 2004)
RR_FEATURES: tuple[str, ...] = ("pre_rr_s", "post_rr_s", "local_rr_s", "pre_rr_norm", "post_rr_norm",
                                "local_rr_norm", "pre_rr_local", "post_rr_local", "pre_rr_prev", "rr_irregularity")


@dataclass(frozen=True, eq=False)
class BeatSet:
    """The beats of one lead of one record.

    sample: int64 R-peak indices at the record's own rate ``fs`` (Hz); windows: (n, WINDOW_LENGTH) float32
    mV, cleaned, at MODEL_FS, R peak at column WINDOW_BEFORE; rr: (n, 10) float32, columns RR_FEATURES
    (seconds, then divided by the record's median RR); label: AAMI class index (-1 = no reference);
    symbol: MIT-BIH symbol ('' = none). ``skipped``: beats left out because their window touches a
    masked (missing-data) stretch.
    """

    record: str
    lead: str
    fs: float
    sample: np.ndarray
    windows: np.ndarray
    rr: np.ndarray
    label: np.ndarray
    symbol: np.ndarray
    skipped: int = 0

    def __len__(self) -> int:
        return int(self.sample.size)

    @property
    def time_s(self) -> np.ndarray:
        """R-peak times in seconds from the start of the record."""
        return self.sample / self.fs


def cut_windows(x: np.ndarray, centres: np.ndarray, before: int = WINDOW_BEFORE,
                after: int = WINDOW_AFTER) -> np.ndarray:
    """Windows ``x[c - before : c + after]`` for every centre c, as one (n, before + after) float32 array.

    ``x`` is 1-D; centres are sample indices into it. Parts of a window beyond either end of ``x`` repeat
    the first/last sample (a flat line), so beats at the record's edges keep a full-length window.
    """
    x = np.asarray(x, dtype=np.float32)
    centres = np.asarray(centres, dtype=np.int64)
    padded = np.pad(x, (before, after), mode="edge")
    views = np.lib.stride_tricks.sliding_window_view(padded, before + after)  # views[c] = x[c-before:c+after]
    return views[np.clip(centres, 0, views.shape[0] - 1)]  # one copy, no (n, L) index array


def rr_features(times_s: np.ndarray, broken: np.ndarray | None = None) -> np.ndarray:
    """Rhythm context per beat from R-peak times in seconds: (n, 10) float32, columns RR_FEATURES.

    pre/post RR: interval to the previous/next beat (the first beat reuses its post RR and the last its
    pre RR); local RR: mean of the LOCAL_RR_INTERVALS pre-RR intervals centred on the beat; the _norm
    columns divide each by the record's median RR, so they read "1.0 = this patient's usual rhythm"; the
    _local columns divide pre and post RR by the local RR ("1.0 = the rhythm of the last few seconds"), the
    prematurity that marks supraventricular ectopic beats even when the rate drifts. pre_rr_prev: pre RR
    over the interval before it (a sudden shortening: the onset of an ectopic beat or run, 1.0 for the
    first beat). rr_irregularity: median absolute change between successive RR intervals over the
    LOCAL_RR_INTERVALS around the beat, over the local RR (near 0 in sinus rhythm, even around an isolated
    ectopic beat; large in atrial fibrillation, where early beats are not ectopic).
    ``broken`` (n-1 bools) marks intervals that span missing data: they are replaced by the median.
    With fewer than two beats nothing is known: seconds are NaN, normalised values 1.0.
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    n = times_s.size
    out = np.empty((n, len(RR_FEATURES)), dtype=np.float32)
    rr = np.diff(times_s)
    if broken is not None:
        rr = np.where(broken, np.nan, rr)
    if n < 2 or np.isnan(rr).all():
        out[:, :3] = np.nan
        out[:, 3:] = 1.0
        out[:, 9] = 0.0
        return out
    median = np.nanmedian(rr)
    rr = np.where(np.isnan(rr), median, rr)
    pre = np.concatenate(([rr[0]], rr))
    post = np.concatenate((rr, [rr[-1]]))
    half = LOCAL_RR_INTERVALS // 2  # intervals i-half .. i+half-1, cut at the record's ends
    cum = np.concatenate(([0.0], np.cumsum(pre)))
    lo, hi = np.clip(np.arange(n) - half, 0, n), np.clip(np.arange(n) + half, 0, n)
    local = (cum[hi] - cum[lo]) / (hi - lo)
    out[:, 0], out[:, 1], out[:, 2] = pre, post, local
    out[:, 3:6] = out[:, :3] / median
    out[:, 6] = pre / local
    out[:, 7] = post / local
    out[:, 8] = pre / np.concatenate(([pre[0]], pre[:-1]))
    change = np.abs(np.diff(pre, prepend=pre[0]))
    half = LOCAL_RR_INTERVALS // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(change, half, mode="edge"), 2 * half + 1)
    out[:, 9] = np.median(windows, axis=1) / local
    return out


def intervals_spanning_gaps(x: np.ndarray, samples: np.ndarray) -> np.ndarray | None:
    """For consecutive beats at ``samples`` (sorted indices into lead ``x``): True where the interval
    between them holds masked (NaN) samples, so its length is not a real RR interval; None if none can."""
    missing = np.isnan(x)
    if not missing.any() or samples.size < 2:
        return None
    cum = np.concatenate(([0], np.cumsum(missing)))
    return (cum[samples[1:]] - cum[samples[:-1]]) > 0


def extract_beats(record: Record, lead: str | int | None = None, r_peaks: np.ndarray | None = None,
                  cleaned: np.ndarray | None = None) -> BeatSet:
    """Cut every beat of one lead of ``record`` into model inputs.

    Beat locations are ``r_peaks`` (sample indices at ``record.fs``) when given, else the record's
    reference annotations (beat symbols only; rhythm, noise and flutter-wave marks are ignored).
    ``lead``: name or index; None picks ``Record.default_lead`` (MLII, else lead II under another name, else the
    first lead). ``cleaned``: that lead already through ``processing.clean`` (mV at MODEL_FS), when the caller
    has it, so a long record is not filtered twice.
    """
    li = record.lead_index(lead)
    if r_peaks is None:
        ann = record.annotations
        if ann is None:
            raise InputError(f"{record.name}: no reference beat annotations; use detected beats instead")
        keep = is_beat(ann.symbol)
        samples, symbols = ann.sample[keep], ann.symbol[keep]
    else:
        samples = np.unique(np.asarray(r_peaks, dtype=np.int64))
        if samples.size and (samples[0] < 0 or samples[-1] >= record.n_samples):
            raise InputError(f"{record.name}: R-peak indices must lie in 0..{record.n_samples - 1}")
        symbols = np.full(samples.size, "", dtype="<U1")
    x = record.signal[:, li]
    rr = rr_features(samples / record.fs, intervals_spanning_gaps(x, samples))
    if cleaned is None:
        cleaned = clean(x, record.fs)
    windows = cut_windows(cleaned, resample_samples(samples, record.fs, MODEL_FS))
    ok = ~np.isnan(windows).any(axis=1)
    return BeatSet(
        record=record.name, lead=record.leads[li], fs=record.fs, sample=samples[ok], windows=windows[ok],
        rr=rr[ok], label=aami_index(symbols[ok]), symbol=symbols[ok], skipped=int((~ok).sum()),
    )
