"""Training-time augmentation of beat windows, and the noise records it draws on.

Noise comes from the MIT-BIH Noise Stress Test Database (``bw`` baseline wander, ``em`` electrode motion,
``ma`` muscle artifact, both channels). The first half of every noise record is for training; the second
half is held back for robustness tests, so no noise sample used in training is used in evaluation.

The model sees cleaned beats (``processing.clean``). Because the band-pass is linear,
clean(ecg + noise) = clean(ecg) + clean(noise) away from the edges, so augmenting a cleaned window with
band-passed noise gives exactly what the serving path produces for a noisy recording.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .mitdb import NSTDB_NOISE, load_nstdb
from .processing import MODEL_FS, bandpass

NOISE_PARTS = ("train", "test")


@lru_cache(maxsize=2)
def noise_bank(part: str = "train") -> tuple[np.ndarray, ...]:
    """Band-passed nstdb noise (mV at 360 Hz): one array per record and channel, from the given half."""
    if part not in NOISE_PARTS:
        raise ValueError(f"part must be one of {NOISE_PARTS}")
    bank = []
    for name in NSTDB_NOISE:
        rec = load_nstdb(name)
        half = rec.n_samples // 2
        for ch in range(rec.n_leads):
            x = rec.signal[:half, ch] if part == "train" else rec.signal[half:, ch]
            bank.append(bandpass(x, MODEL_FS))
    return tuple(bank)


def scale_noise_to_snr(signal_power: np.ndarray, noise: np.ndarray, snr_db: np.ndarray) -> np.ndarray:
    """Noise (n, L) rescaled so that 10*log10(signal_power / noise_power) = snr_db, row by row."""
    noise_power = np.mean(noise ** 2, axis=1) + 1e-12
    gain = np.sqrt(signal_power / (noise_power * 10 ** (np.asarray(snr_db) / 10)))
    return noise * gain[:, None]


class Augmenter:
    """Random noise at random SNRs, amplitude scaling, small time shifts and residual baseline wander.

    Call on a batch of cleaned windows (n, L) in mV; returns a new array. All randomness comes from ``rng``.
    """

    def __init__(self, rng: np.random.Generator, noise=None, p_noise=0.5, snr_db=(0.0, 24.0),
                 scale=(0.8, 1.25), max_shift=5, wander_mv=0.1):
        self.rng = rng
        self.noise = noise_bank("train") if noise is None else noise
        self.p_noise, self.snr_db, self.scale = p_noise, snr_db, scale
        self.max_shift, self.wander_mv = max_shift, wander_mv

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        n, length = windows.shape
        rng = self.rng
        w = windows * rng.uniform(*self.scale, size=(n, 1))
        if self.max_shift:  # shift by up to max_shift samples (14 ms), holding the edge value
            shift = rng.integers(-self.max_shift, self.max_shift + 1, size=n)
            idx = np.clip(np.arange(length)[None, :] - shift[:, None], 0, length - 1)
            w = np.take_along_axis(w, idx, axis=1)
        if self.wander_mv:  # what wander leaves after the band-pass: a slow tilt and offset
            t = np.linspace(-1, 1, length)[None, :]
            w = w + rng.uniform(-1, 1, (n, 1)) * self.wander_mv * t + rng.uniform(-1, 1, (n, 1)) * self.wander_mv / 2
        noisy = rng.random(n) < self.p_noise
        if noisy.any():
            k = int(noisy.sum())
            src = rng.integers(len(self.noise), size=k)
            starts = rng.integers(0, [self.noise[s].size - length for s in src])
            segs = np.stack([self.noise[s][a: a + length] for s, a in zip(src, starts)])
            centred = windows[noisy] - np.median(windows[noisy], axis=1, keepdims=True)
            power = np.mean(centred ** 2, axis=1)
            w[noisy] += scale_noise_to_snr(power, segs, rng.uniform(*self.snr_db, size=k))
        return w.astype(np.float32)


def irregular_rhythm(times_s: np.ndarray, rng: np.random.Generator, spread=(0.1, 0.3)) -> np.ndarray:
    """RR features (beats.rr_features) of the same beats re-timed as an irregularly irregular rhythm.

    The beats keep their mean rate, but every interval is drawn anew (log-normal, sd ``spread`` drawn per
    call): the rhythm of atrial fibrillation, where early beats are normal (N), not ectopic. Used on
    training stretches that hold only normal beats, so the model learns that prematurity inside an
    irregular rhythm is not a supraventricular ectopic beat.
    """
    from .beats import rr_features

    times_s = np.asarray(times_s, dtype=np.float64)
    n = times_s.size
    if n < 3:
        return rr_features(times_s)
    mean_rr = (times_s[-1] - times_s[0]) / (n - 1)
    sd = rng.uniform(*spread)
    rr = mean_rr * np.exp(rng.normal(-sd ** 2 / 2, sd, n - 1))
    return rr_features(np.concatenate(([0.0], np.cumsum(rr))))


def premature_beats(times_s: np.ndarray, labels: np.ndarray, candidates: np.ndarray, rng: np.random.Generator,
                    per_stretch=(1, 3), earlier=(0.15, 0.4)) -> tuple[np.ndarray, np.ndarray]:
    """(RR features, labels) of a stretch of normal beats in which a few are re-timed as atrial premature beats.

    A supraventricular ectopic beat is a normally conducted beat that comes early. DS1 holds 944 of them, half in
    two patients; here 1-3 of the ``candidates`` (indices into the stretch, beats that are labelled) are moved
    earlier by 15-40% of their RR interval and labelled S. Half the time the sinus node is reset (the beats
    after move too: a non-compensatory pause, as after most atrial premature beats), else only the beat moves.
    The waveform is left as it is: the lesson is "normal shape, early, after a steady rhythm".
    """
    from .beats import rr_features

    t = np.asarray(times_s, dtype=np.float64).copy()
    labels = np.asarray(labels).copy()
    candidates = np.asarray(candidates)
    candidates = candidates[(candidates >= 2) & (candidates < t.size - 1)]
    if candidates.size == 0:
        return rr_features(t), labels
    k = min(int(rng.integers(per_stretch[0], per_stretch[1] + 1)), candidates.size)
    for i in np.sort(rng.choice(candidates, size=k, replace=False)):
        shift = rng.uniform(*earlier) * (t[i] - t[i - 1])
        if rng.random() < 0.5:
            t[i:] -= shift  # sinus reset
        else:
            t[i] -= shift
        labels[i] = 1  # S (AAMI_CLASSES order)
    return rr_features(t), labels


def _run_times(t: np.ndarray, candidates: np.ndarray, rng: np.random.Generator, run_beats, rate, pause):
    """Beat times ``t`` (s, changed in place) with a run of ``run_beats`` beats set at one of the ``candidates``: the
    run's beats come every ``rate`` times the sinus RR interval before it (the first one early too) and the beats
    after it follow a pause of ``pause`` sinus intervals. Returns the run's first index and length, or None."""
    k = int(rng.integers(run_beats[0], run_beats[1] + 1))
    candidates = np.asarray(candidates)
    candidates = candidates[(candidates >= 2) & (candidates + k < t.size - 1)]
    if candidates.size == 0:
        return None
    s = int(rng.choice(candidates))
    sinus = t[s] - t[s - 1]
    step = rng.uniform(*rate) * sinus
    old_next = t[s + k]
    t[s: s + k] = t[s - 1] + step * np.arange(1, k + 1)
    t[s + k:] += t[s + k - 1] + rng.uniform(*pause) * sinus - old_next
    return s, k


def ventricular_runs(times_s: np.ndarray, labels: np.ndarray, windows: np.ndarray, v_windows: np.ndarray,
                     candidates: np.ndarray, rng: np.random.Generator, run_beats=(3, 8), rate=(0.45, 0.8),
                     pause=(1.0, 1.6)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RR features, labels, windows) of a stretch of normal beats in which a run of this patient's PVCs is set.

    DS1's ventricular runs are few (223's, 203's, 207's) and the network reads many of their beats as N: a run
    of one shape at a steady rate looks like a rhythm. Here ``run_beats`` consecutive beats, starting at one of the
    ``candidates`` (indices into the stretch), are replaced by windows drawn from ``v_windows`` (mV, this patient's
    own PVCs, as cut from the record) and labelled V; they come at ``rate`` times the sinus RR interval (the
    first one early too), and the sinus beats after the run follow a pause of ``pause`` sinus intervals.
    """
    from .beats import rr_features

    t = np.asarray(times_s, dtype=np.float64).copy()
    labels = np.asarray(labels).copy()
    windows = np.array(windows, dtype=np.float32, copy=True)
    if len(v_windows) == 0:
        return rr_features(t), labels, windows
    run = _run_times(t, candidates, rng, run_beats, rate, pause)
    if run is not None:
        s, k = run
        windows[s: s + k] = v_windows[rng.integers(len(v_windows), size=k)]
        labels[s: s + k] = 2  # V (AAMI_CLASSES order)
    return rr_features(t), labels, windows


def supraventricular_runs(times_s: np.ndarray, labels: np.ndarray, candidates: np.ndarray, rng: np.random.Generator,
                          run_beats=(3, 10), rate=(0.45, 0.75), pause=(1.0, 1.4)) -> tuple[np.ndarray, np.ndarray]:
    """(RR features, labels) of a stretch of normal beats in which a run of supraventricular tachycardia is set.

    Out of fold, half of DS1's missed S beats lie inside runs of supraventricular tachycardia (209's, 207's): the
    network, reading 4 beats on each side, loses a run a few beats after its abrupt onset. Here ``run_beats``
    consecutive beats, starting at one of the ``candidates``, come every ``rate`` times the sinus RR interval (the
    first one early: an abrupt onset) and are labelled S; the sinus beats after the run follow a pause of ``pause``
    sinus intervals. The waveforms are left as they are: the beats are conducted normally, only their timing
    tells, as with ``premature_beats``.
    """
    from .beats import rr_features

    t = np.asarray(times_s, dtype=np.float64).copy()
    labels = np.asarray(labels).copy()
    run = _run_times(t, candidates, rng, run_beats, rate, pause)
    if run is not None:
        s, k = run
        labels[s: s + k] = 1  # S (AAMI_CLASSES order)
    return rr_features(t), labels


def sinus_arrhythmia(times_s: np.ndarray, rng: np.random.Generator, depth=(0.05, 0.2), period_s=(4.0, 10.0),
                     drift=(-0.3, 0.3)) -> np.ndarray:
    """RR features (beats.rr_features) of a stretch of normal beats re-timed as sinus arrhythmia, labels unchanged (N).

    Synthetic supraventricular tachycardia (``supraventricular_runs``) teaches that a run of fast beats is S; a
    sinus rate also rises and falls, but gradually: with breathing (respiratory sinus arrhythmia, marked in the
    young) and with effort. Here the stretch keeps its mean rate, each RR interval is scaled by
    1 + ``depth`` x sin(2 pi t / ``period_s`` + phase) (depth and period in seconds drawn per call) and by a linear
    drift of the rate over the stretch (its total change drawn from ``drift``), so beats come early and late
    against the local and the record's rhythm without being ectopic. The waveforms are left as they are.
    """
    from .beats import rr_features

    t = np.asarray(times_s, dtype=np.float64)
    n = t.size
    if n < 3:
        return rr_features(t)
    rr = np.diff(t)
    mid = (t[:-1] + t[1:]) / 2 - t[0]  # each interval's middle, s from the stretch's start
    span = max(float(mid[-1]), 1e-9)
    scale = 1 + rng.uniform(*depth) * np.sin(2 * np.pi * mid / rng.uniform(*period_s) + rng.uniform(0, 2 * np.pi))
    scale *= 1 + rng.uniform(*drift) * (mid / span - 0.5)
    rr = rr * scale * rr.sum() / (rr * scale).sum()
    return rr_features(np.concatenate(([t[0]], t[0] + np.cumsum(rr))))


def early_waves(windows: np.ndarray, pre_rr_old_s: np.ndarray, pre_rr_new_s: np.ndarray,
                fs: float = MODEL_FS) -> np.ndarray:
    """Beat windows (n, L) in mV of consecutive beats, redrawn for beats whose pre RR changed (s, ``premature_beats``).

    A beat that comes earlier lands on the T wave of the beat before it: its P wave (0.25 s of the window
    precede the R peak) rides on that T wave, as in a real atrial premature beat. For every beat whose pre RR
    changed, the part of the previous beat's window that reaches into this one at the old spacing is taken out
    and the part that reaches in at the new spacing is added (each relative to the previous window's last sample,
    so nothing steps). The first beat (no previous window) is left as it is.
    """
    w = np.array(windows, dtype=np.float32, copy=True)
    length = w.shape[1]
    old = np.round(np.asarray(pre_rr_old_s, dtype=np.float64) * fs).astype(int)
    new = np.round(np.asarray(pre_rr_new_s, dtype=np.float64) * fs).astype(int)
    for k in np.flatnonzero(old != new):
        if k == 0:
            continue
        tail = windows[k - 1] - windows[k - 1, -1]  # the previous beat, 0 at its window's end

        def reach(spacing: int) -> np.ndarray:
            out = np.zeros(length, np.float32)
            if 0 < spacing < length:
                out[: length - spacing] = tail[spacing:]
            return out

        w[k] += reach(new[k]) - reach(old[k])
    return w
