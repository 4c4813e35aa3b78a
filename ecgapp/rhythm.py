"""Rhythm from beat timing: where the rhythm is atrial fibrillation (irregularly irregular), and which beats
come on time (the on-time V and S gates).

In atrial fibrillation there are no P waves and every RR interval is random: an early beat is not a
supraventricular ectopic beat (AAMI labels it N). Beat-level classifiers trained on a handful of AF
patients call many such beats S (DS1 cross-validation: 1,255 false S in record 203 alone), so the model's
decision rule can suppress S where this detector finds AF (``apply_af_gate``; chosen by cross-validation,
see ``train.py``).

The detector (``af_irregularity``) reads only the RR intervals, so it works on detected beats at any
sampling rate. For each beat, over the ``window`` RR intervals around it, it takes the median absolute
difference between intervals ``lag`` beats apart, for lag 1, 2 and 3, and keeps the smallest, over the
median RR interval: near 0.02-0.05 in sinus rhythm; 0.1-0.3 in atrial fibrillation. Taking the smallest
lag keeps bigeminy and trigeminy (regular patterns of 2 or 3 intervals) out of AF; intervals next to a
ventricular beat are left out, as classical AF detectors do, so frequent PVCs do not read as AF.
On DS1 against the reference rhythm annotations ((AFIB and (AFL), beat level, at AF_THRESHOLD (0.10): Se
1.00, +P 0.77, Sp 0.98; on DS2, reported only, Se 0.77, +P 0.74, Sp 0.94 (at the shipped model's 0.08: DS1
1.00 / 0.71 / 0.97, DS2 0.92 / 0.71 / 0.92)
(``python -m benchmarks.bench_af``; benchmarks/results/af.md). Reading AF from RR intervals alone has a
known limit: frequent APCs with varying coupling (record 201) read as AF too.

A premature ventricular contraction comes early, or is followed by a pause, or belongs to a run faster than
the patient's usual rate. A beat the network reads as V that does none of these (on time against the local
rhythm, no pause after it, not fast) is, across DS1's patients, nearly always a normal beat whose shape the
network has not seen: the wide conducted beats of 230 (pre-excitation) and the large-P, noisy beats of 108 gave
about 1,300 of 2,000 false V beats per cross-validation run. ``apply_v_gate`` moves such a beat's V probability
to N (chosen by cross-validation in ``train.py``: DS1 macro-F1 0.749 -> 0.784 cross-fitted over 3 seeds,
``python -m benchmarks.bench_calibration [--folds runs/hybrid/seed<S>]``), unless
the network is sure of V (a late-cycle PVC of clear ventricular shape also comes on time). Late beats (pre RR at
least ON_TIME_LATE of the local RR: escape beats, which AAMI counts as V) are never gated.

AAMI's S class is the supraventricular premature beat (and the beats of a supraventricular run, fast for the
patient); a supraventricular beat that comes on time or late is an escape beat, N. ``apply_s_gate`` moves the S
probability of a beat read as S to N when its pre RR is at least 0.9 of the local RR and 0.8 of the record's median
(the shipped model's ``s_gate``, chosen by cross-validation in ``train.py``): cross-fitted over eight seeds DS1
macro-F1 0.861 -> 0.886, nearly all of it false S removed (118's bundle-branch beats, 109, 223;
benchmarks/results/experiments.md row 43).

The beats of a supraventricular tachycardia are S, but inside a run the network, which reads 4 beats on each side,
loses the onset a few beats in and reads the rest as N (DS1's 209: about half its S beats). ``apply_sv_runs`` labels
S the N beats of a run that starts abruptly, goes on fast and steady, lies outside AF and holds a beat the network
reads as S and none it reads as V. Out of fold it righted 465 labels and wronged 2 over 3 seeds, nearly all in
209 (``benchmarks.bench_calibration``); it is off in the shipped model (``train.py --sv-run true`` turns it on;
benchmarks/results/experiments.md row 30): its gain in cross-validation rests on one DS1 patient and, cross-fitted,
is not there on every seed, and on DS2 it labelled stretches of regular atrial flutter S (AAMI labels flutter beats
N).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .beats import RR_FEATURES

AF_WINDOW = 64  # RR intervals read around each beat (about 50 s at 75 bpm)
AF_LAGS = (1, 2, 3)
AF_MIN_INTERVALS = 8  # fewer usable interval differences in the window: not enough to call AF
AF_THRESHOLD = 0.10  # default irregularity above which a beat is read as atrial fibrillation
N_INDEX, S_INDEX, V_INDEX = 0, 1, 2  # AAMI_CLASSES order N S V F Q
AF_GATE_PENALTY = 20.0  # logit units taken from S inside AF (finite, so log-losses stay finite)
ON_TIME_LATE = 1.3  # pre RR over local RR at or above this: a late (escape) beat, never gated
SV_RUN_MIN_BEATS = 3  # a supraventricular tachycardia: three or more supraventricular beats in a row
_PRE_NORM, _PRE_LOCAL, _POST_LOCAL = (RR_FEATURES.index(c) for c in ("pre_rr_norm", "pre_rr_local", "post_rr_local"))


def af_irregularity(pre_rr_s: np.ndarray, ventricular: np.ndarray | None = None, window: int = AF_WINDOW) -> np.ndarray:
    """Per-beat RR irregularity (dimensionless, see the module docstring), float64 (n,).

    ``pre_rr_s``: each beat's RR interval to the previous beat in seconds (``beats.rr_features`` column 0).
    ``ventricular``: bool (n,), beats read as ventricular; the intervals before and after them are left out.
    Beats with fewer than AF_MIN_INTERVALS usable differences in their window get 0 (not irregular).
    """
    rr = np.asarray(pre_rr_s, dtype=np.float64).copy()
    n = rr.size
    if n == 0:
        return np.zeros(0)
    rr[~np.isfinite(rr) | (rr <= 0)] = np.nan
    if ventricular is not None:
        v = np.asarray(ventricular, dtype=bool)
        rr[v | np.concatenate((v[1:], [False]))] = np.nan  # interval into a V beat and the one after it
    width = 2 * (window // 2) + 1  # centred windows, cut at the record's ends (pandas' rolling median: O(n log w))
    local = pd.Series(rr).rolling(width, center=True, min_periods=1).median().to_numpy()
    best = np.full(n, np.inf)
    for lag in AF_LAGS:
        d = np.full(n, np.nan)
        if n > lag:
            d[lag:] = np.abs(rr[lag:] - rr[:-lag])
        rolling = pd.Series(d).rolling(width, center=True, min_periods=1)
        med = np.where(rolling.count().to_numpy() >= AF_MIN_INTERVALS, rolling.median().to_numpy(), np.nan)
        best = np.fmin(best, med)
    with np.errstate(all="ignore"):
        out = best / local
    return np.where(np.isfinite(out), out, 0.0)


def atrial_fibrillation(pre_rr_s: np.ndarray, ventricular: np.ndarray | None = None,
                        threshold: float = AF_THRESHOLD) -> np.ndarray:
    """bool (n,): beats whose surrounding rhythm is irregularly irregular (``af_irregularity`` > threshold)."""
    return af_irregularity(pre_rr_s, ventricular) > threshold


def ventricular_mask(logits: np.ndarray) -> np.ndarray:
    """Beats whose best class apart from S is V: the beats whose RR intervals the AF detector leaves out."""
    z = np.array(logits, dtype=np.float64, copy=True)
    if z.size:
        z[:, S_INDEX] = -np.inf
    return z.argmax(axis=1) == V_INDEX if z.size else np.zeros(0, bool)


def af_gate_mask(logits: np.ndarray, pre_rr_s: np.ndarray, threshold: float) -> np.ndarray:
    """bool (n,): the beats of one record whose S logit the gate lowers (inside atrial fibrillation).

    ``logits``: (n, 5) in AAMI_CLASSES order, before the decision rule's offsets (their V decides which
    intervals the detector leaves out); ``threshold`` <= 0 turns the gate off (all False).
    """
    if threshold <= 0 or len(logits) == 0:
        return np.zeros(len(logits), bool)
    return atrial_fibrillation(pre_rr_s, ventricular_mask(logits), threshold)


def apply_af_gate(logits: np.ndarray, pre_rr_s: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(a copy of ``logits`` with S lowered by AF_GATE_PENALTY where ``af_gate_mask``, that mask)."""
    logits = np.array(logits, dtype=np.float32, copy=True)
    af = af_gate_mask(logits, pre_rr_s, threshold)
    logits[af, S_INDEX] -= AF_GATE_PENALTY
    return logits, af


def on_time(rr: np.ndarray, early: float, pause: float, fast: float) -> np.ndarray:
    """bool (n,): beats that are on time (``rr``: (n, 10) ``beats.RR_FEATURES``, as the model reads them).

    On time: pre RR over the local RR at least ``early`` (not premature) and under ON_TIME_LATE (not an
    escape beat), post RR over the local RR at most ``pause`` (no compensatory pause after it), and pre RR over
    the record's median RR at least ``fast`` (not part of a run faster than this patient's usual rate).
    """
    rr = np.asarray(rr, dtype=np.float64).reshape(-1, len(RR_FEATURES))
    pre_local, post_local, pre_norm = rr[:, _PRE_LOCAL], rr[:, _POST_LOCAL], rr[:, _PRE_NORM]
    return (pre_local >= early) & (pre_local < ON_TIME_LATE) & (post_local <= pause) & (pre_norm >= fast)


def v_gate_mask(logits: np.ndarray, rr: np.ndarray, gate) -> np.ndarray:
    """bool (n,): beats whose best class is V but which come on time (``on_time`` at ``gate`` = (early, pause,
    fast, sure)) and whose V probability (softmax of ``logits``, the raw ones) is under ``sure`` (1 or more: any;
    a beat the network is that sure of stays V even on time); early <= 0 turns the gate off (all False)."""
    early, pause, fast, sure = (*(float(g) for g in gate), 1.0)[:4]
    if early <= 0 or len(logits) == 0:
        return np.zeros(len(logits), bool)
    z = np.asarray(logits, dtype=np.float64)
    mask = (z.argmax(axis=1) == V_INDEX) & on_time(rr, early, pause, fast)
    if sure < 1.0:
        p = np.exp(z - z.max(axis=1, keepdims=True))
        mask &= p[:, V_INDEX] / p.sum(axis=1) < sure
    return mask


def move_class(logits, mask: np.ndarray | None, source: int, target: int):
    """``logits`` with the ``source`` class's probability of the beats of ``mask`` (None: every beat) moved to
    ``target``: the target logit becomes log(exp target + exp source), the source loses AF_GATE_PENALTY (the other
    classes' probabilities are unchanged). One rule for cross-validation (numpy in, a float32 copy out) and serving
    and explanations (a torch tensor in, a new tensor out, differentiable)."""
    import torch

    if not isinstance(logits, torch.Tensor):
        return move_class(torch.as_tensor(np.asarray(logits, dtype=np.float32)), mask, source, target).numpy()
    rows = logits if mask is None else logits[torch.as_tensor(mask, device=logits.device)]
    moved = rows.clone()
    moved[:, target] = torch.logaddexp(rows[:, target], rows[:, source])
    moved[:, source] = rows[:, source] - AF_GATE_PENALTY
    if mask is None:
        return moved
    out = logits.clone()
    out[torch.as_tensor(mask, device=logits.device)] = moved
    return out


def v_to_n(logits, mask: np.ndarray | None = None):
    """``logits`` with the V probability of the beats of ``mask`` (None: every beat) moved to N (``move_class``):
    the on-time V gate."""
    return move_class(logits, mask, V_INDEX, N_INDEX)


def apply_v_gate(logits: np.ndarray, rr: np.ndarray, gate) -> tuple[np.ndarray, np.ndarray]:
    """(a copy of ``logits`` with V moved to N where ``v_gate_mask``, that mask)."""
    mask = v_gate_mask(logits, rr, gate)
    return v_to_n(logits, mask), mask


def neither_early_nor_fast(rr: np.ndarray, early: float, fast: float) -> np.ndarray:
    """bool (n,): beats whose pre RR is at least ``early`` of the local RR and at least ``fast`` of the record's median
    RR (``rr``: (n, 10) ``beats.RR_FEATURES``): what the on-time S gate reads; late (escape) beats included."""
    rr = np.asarray(rr, dtype=np.float64).reshape(-1, len(RR_FEATURES))
    return (rr[:, _PRE_LOCAL] >= early) & (rr[:, _PRE_NORM] >= fast)


def s_gate_mask(logits: np.ndarray, rr: np.ndarray, gate) -> np.ndarray:
    """bool (n,): beats whose best class is S but which are neither early nor fast (``neither_early_nor_fast`` at
    ``gate`` = (early, fast)). AAMI's S class is the supraventricular premature beat (and the beats of a
    supraventricular run, fast for this patient); a supraventricular beat that comes on time or late is an escape
    beat, N. ``gate[0]`` <= 0 turns the gate off (all False)."""
    early, fast = (float(g) for g in gate)
    if early <= 0 or len(logits) == 0:
        return np.zeros(len(logits), bool)
    return (np.asarray(logits).argmax(axis=1) == S_INDEX) & neither_early_nor_fast(rr, early, fast)


def apply_s_gate(logits: np.ndarray, rr: np.ndarray, gate) -> tuple[np.ndarray, np.ndarray]:
    """(a copy of ``logits`` with S moved to N where ``s_gate_mask``, that mask): the on-time S gate."""
    mask = s_gate_mask(logits, rr, gate)
    return move_class(logits, mask, S_INDEX, N_INDEX), mask


def sv_runs(rr: np.ndarray, gate, af: np.ndarray | None = None) -> list[tuple[int, int]]:
    """The fast runs of one record's beats, as (first, stop) beat indices: a beat that comes abruptly early (pre RR
    under ``onset`` of the interval before it) starts a run, which goes on while the beats stay fast (pre RR under
    ``fast`` of the record's median RR) and steady (each pre RR within ``steady`` of the one before, as a fraction);
    runs of at least SV_RUN_MIN_BEATS beats, none inside atrial fibrillation (``af``, bool (n,)). ``rr`` (n, 10):
    ``beats.RR_FEATURES``; ``gate`` = (fast, steady, onset). Sinus tachycardia speeds up gradually, so it starts no run.
    """
    fast, steady, onset = (float(g) for g in gate)
    rr = np.asarray(rr, dtype=np.float64).reshape(-1, len(RR_FEATURES))
    ok = rr[:, _PRE_NORM] < fast
    if af is not None:
        ok &= ~np.asarray(af, bool)
    pre, ok = rr[:, 0].tolist(), ok.tolist()
    runs, j, n = [], 1, len(pre)
    while j < n:
        if ok[j] and pre[j] < onset * pre[j - 1]:
            k = j + 1
            while k < n and ok[k] and abs(pre[k] / pre[k - 1] - 1.0) < steady:
                k += 1
            if k - j >= SV_RUN_MIN_BEATS:
                runs.append((j, k))
            j = k
        else:
            j += 1
    return runs


def sv_run_mask(logits: np.ndarray, rr: np.ndarray, gate, af: np.ndarray | None = None) -> np.ndarray:
    """bool (n,): the beats of one record whose best class is N inside a fast run (``sv_runs`` at ``gate``) in which
    at least one beat's best class is S and none is V: a supraventricular tachycardia, whose beats AAMI labels S
    (the network, reading 4 beats on each side, loses the run's onset a few beats in). ``logits``: the served ones
    of the whole record; ``gate`` (fast, steady, onset) with fast <= 0 turns the rule off (all False)."""
    mask = np.zeros(len(logits), bool)
    if len(logits) == 0 or float(gate[0]) <= 0:
        return mask
    best = np.asarray(logits).argmax(axis=1)
    for first, stop in sv_runs(rr, gate, af):
        run = best[first:stop]
        if (run == S_INDEX).any() and not (run == V_INDEX).any():
            mask[first:stop] = run == N_INDEX
    return mask


def apply_sv_runs(logits: np.ndarray, rr: np.ndarray, gate,
                  af: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(a copy of ``logits`` with N moved to S where ``sv_run_mask``, that mask)."""
    mask = sv_run_mask(logits, rr, gate, af)
    return (move_class(logits, mask, N_INDEX, S_INDEX) if mask.any() else np.array(logits, np.float32)), mask
