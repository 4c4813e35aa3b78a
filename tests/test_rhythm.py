"""The atrial-fibrillation detector and the gate that keeps S labels out of AF (ecgapp/rhythm.py)."""

import numpy as np
import pytest

from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import extract_beats
from ecgapp.mitdb import AF_RHYTHMS, beat_rhythms, load_record
from ecgapp.rhythm import (AF_GATE_PENALTY, AF_THRESHOLD, af_irregularity, apply_af_gate, atrial_fibrillation,
                           ventricular_mask)

V = AAMI_CLASSES.index("V")


def reference_af(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pre-RR s, reference V mask, reference AF/AFL rhythm mask) of a mitdb record's beats."""
    beats = extract_beats(load_record(name))
    rhythm = beat_rhythms(name)
    assert len(rhythm) == len(beats)
    return beats.rr[:, 0], beats.label == V, np.isin(rhythm, AF_RHYTHMS)


def test_synthetic_rhythms():
    rng = np.random.default_rng(0)
    sinus = 0.8 + 0.01 * rng.standard_normal(300)
    assert not atrial_fibrillation(sinus).any()
    isolated = sinus.copy()
    isolated[50::20] *= 0.6  # an early beat every 20 ...
    isolated[51::20] *= 1.4  # ... with its compensatory pause
    assert not atrial_fibrillation(isolated).any()
    bigeminy = np.tile([0.55, 1.05], 150) + 0.01 * rng.standard_normal(300)
    trigeminy = np.tile([0.8, 0.5, 1.1], 100) + 0.01 * rng.standard_normal(300)
    assert not atrial_fibrillation(bigeminy).any() and not atrial_fibrillation(trigeminy).any()
    af = rng.uniform(0.4, 1.1, 300)
    assert atrial_fibrillation(af).all()
    # sinus, then AF, then sinus: the AF beats are found, with at most half a window of spill each side
    mixed = np.concatenate([sinus[:150], af[:150], sinus[150:]])
    found = atrial_fibrillation(mixed)
    assert found[170:280].all() and not found[:110].any() and not found[-110:].any()


def test_too_few_intervals_and_bad_values_are_not_af():
    assert not atrial_fibrillation(np.array([0.5, 1.0, 0.4, 1.2, 0.6])).any()  # 5 beats: unknown, not AF
    assert af_irregularity(np.zeros(0)).shape == (0,)
    weird = np.array([np.nan, 0.0, -1.0, np.inf] * 30)
    assert np.isfinite(af_irregularity(weird)).all() and not atrial_fibrillation(weird).any()


def test_ventricular_beats_are_left_out():
    """Ventricular bigeminy with wandering coupling reads as irregular unless the V beats' intervals are
    left out, as the detector is told to."""
    rng = np.random.default_rng(1)
    n = 300
    rr = np.full(n, 0.8) + 0.01 * rng.standard_normal(n)
    v = np.zeros(n, bool)
    v[::3] = True
    rr[v] = rng.uniform(0.35, 0.6, v.sum())  # early PVCs, coupling varying
    rr[np.flatnonzero(v)[:-1] + 1] = 1.6 - rr[v][:-1]  # compensatory pauses
    assert not atrial_fibrillation(rr, v).any()


@pytest.mark.parametrize("name, lo, hi", [("203", 0.95, 1.0), ("201", 0.46, 0.85), ("112", 0.0, 0.0),
                                           ("119", 0.0, 0.12), ("209", 0.0, 0.02), ("223", 0.0, 0.01)])
def test_af_share_on_mitdb_records(name, lo, hi):
    """203 is atrial fibrillation/flutter throughout, 201 for 46% of its beats; 112 is sinus rhythm, 119
    ventricular bigeminy and trigeminy (its PVCs left out: 10% still read as AF), 209 sinus with runs of SVT,
    223 sinus with frequent PVCs and runs of VT: not AF."""
    pre, v, _ = reference_af(name)
    share = atrial_fibrillation(pre, v).mean()
    assert lo <= share <= hi


def test_agrees_with_the_reference_rhythm_of_201():
    pre, v, af = reference_af("201")
    found = atrial_fibrillation(pre, v)
    assert (found & af).sum() >= 0.95 * af.sum()  # AF episodes found
    # the known limit of reading AF from RR intervals alone: 201's sinus stretches hold frequent aberrated
    # APCs with varying coupling and read as AF for about half their beats (P waves would tell them apart)
    assert (found & ~af).sum() <= 0.6 * (~af).sum()


def test_gate_lowers_only_s_inside_af():
    rng = np.random.default_rng(2)
    pre = np.concatenate([0.8 + 0.01 * rng.standard_normal(200), rng.uniform(0.4, 1.1, 200)])
    logits = rng.standard_normal((400, 5)).astype(np.float32)
    same, none = apply_af_gate(logits, pre, 0.0)
    np.testing.assert_array_equal(same, logits)
    assert not none.any()
    gated, af = apply_af_gate(logits, pre, AF_THRESHOLD)
    assert af[250:].all() and not af[:150].any()
    np.testing.assert_allclose(gated[af, 1], logits[af, 1] - AF_GATE_PENALTY)
    np.testing.assert_array_equal(gated[~af], logits[~af])
    np.testing.assert_array_equal(np.delete(gated, 1, axis=1), np.delete(logits, 1, axis=1))


def test_ventricular_mask_ignores_s():
    logits = np.array([[0, 5, 3, 0, 0], [0, 5, -1, 0, 0], [0, 0, 3, 0, 0]], np.float32)
    assert ventricular_mask(logits).tolist() == [True, False, True]
    assert ventricular_mask(np.zeros((0, 5))).shape == (0,)


def test_on_time_v_gate_moves_v_to_n_only_for_beats_that_come_on_time():
    """Five beats read as V: premature, followed by a pause, in a fast run, late (an escape beat) and on time.
    Only the on-time one is moved, and its V probability goes to N (the others' probabilities unchanged)."""
    from ecgapp.beats import RR_FEATURES
    from ecgapp.rhythm import apply_v_gate, on_time

    col = {c: RR_FEATURES.index(c) for c in ("pre_rr_norm", "pre_rr_local", "post_rr_local")}
    rr = np.ones((6, len(RR_FEATURES)), np.float32)
    rr[0, col["pre_rr_local"]] = 0.7  # premature
    rr[1, col["post_rr_local"]] = 1.4  # a compensatory pause after it
    rr[2, col["pre_rr_norm"]] = 0.6  # in a run faster than the patient's usual rate
    rr[3, col["pre_rr_local"]] = 1.5  # late: an escape beat
    logits = np.tile(np.array([1.0, 0.5, 3.0, 0.2, -1.0], np.float32), (6, 1))
    logits[5] = [3.0, 0.5, 1.0, 0.2, -1.0]  # on time, but read as N: nothing to do
    gate = (0.9, 1.1, 0.8)
    assert on_time(rr, *gate).tolist() == [False, False, False, False, True, True]
    out, moved = apply_v_gate(logits, rr, gate)
    assert moved.tolist() == [False, False, False, False, True, False]
    np.testing.assert_array_equal(out[~moved], logits[~moved])
    p = lambda z: np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(p(out[4])[0], p(logits[4])[0] + p(logits[4])[2], rtol=1e-4)
    np.testing.assert_allclose(p(out[4])[[1, 3, 4]], p(logits[4])[[1, 3, 4]], rtol=1e-4)
    assert out[4].argmax() == 0
    off, none = apply_v_gate(logits, rr, (0.0, 0.0, 0.0))
    assert not none.any() and np.array_equal(off, logits)
    # "unless sure of V": beat 4's p(V) is 0.77; a beat the network is 99.9% sure of stays V even on time
    sure = logits.copy()
    sure[4, 2] = 12.0
    _, moved = apply_v_gate(sure, rr, (0.9, 1.1, 0.8, 0.99))
    assert not moved.any()
    assert apply_v_gate(logits, rr, (0.9, 1.1, 0.8, 0.99))[1].tolist() == [False] * 4 + [True, False]
    assert apply_v_gate(sure, rr, (0.9, 1.1, 0.8, 1.0))[1][4]  # 1: whatever the network's certainty


def _rr_of_intervals(intervals):
    """RR features (beats.rr_features) of beats whose RR intervals are ``intervals`` (seconds)."""
    from ecgapp.beats import rr_features
    return rr_features(np.concatenate(([0.0], np.cumsum(intervals))))


def test_sv_runs_start_abruptly_and_go_on_fast_and_steady():
    """A burst of 8 beats at 0.45 s in a 0.8 s rhythm is one run (from its first early beat to its last); sinus
    tachycardia that speeds up gradually to the same rate starts none; a two-beat burst is too short; irregular
    fast beats (each interval far from the one before) break a run; inside atrial fibrillation (the AF mask) there
    is none."""
    from ecgapp.rhythm import sv_runs

    gate = (0.8, 0.2, 0.9)
    burst = [0.8] * 30 + [0.45] * 8 + [0.9] + [0.8] * 30
    assert sv_runs(_rr_of_intervals(burst), gate) == [(31, 39)]
    gradual = [0.8] * 30 + list(np.linspace(0.8, 0.45, 30)) + [0.45] * 20 + list(np.linspace(0.45, 0.8, 30)) + [0.8] * 30
    assert sv_runs(_rr_of_intervals(gradual), gate) == []
    assert sv_runs(_rr_of_intervals([0.8] * 30 + [0.45] * 2 + [0.9] + [0.8] * 30), gate) == []
    jumpy = [0.8] * 30 + [0.45, 0.3, 0.5, 0.3, 0.5, 0.3] + [0.8] * 30
    assert sv_runs(_rr_of_intervals(jumpy), gate) == []
    rr = _rr_of_intervals(burst)
    af = np.zeros(len(rr), bool)
    af[25:45] = True
    assert sv_runs(rr, gate, af) == []


def test_sv_run_rule_moves_n_to_s_only_in_runs_the_network_reads_as_supraventricular():
    """In the burst, the network reads the first early beat as S and the rest as N: the rule makes every N beat of
    the run S (its N probability moved to S, the others unchanged) and nothing outside it. A run with a beat read
    as V, or with no beat read as S, is left alone, and so is everything when the rule is off."""
    from ecgapp.rhythm import apply_sv_runs

    rr = _rr_of_intervals([0.8] * 30 + [0.45] * 8 + [0.9] + [0.8] * 30)
    n = len(rr)
    logits = np.tile(np.array([3.0, 1.0, 0.0, -1.0, -2.0], np.float32), (n, 1))
    logits[31] = [1.0, 3.0, 0.0, -1.0, -2.0]  # the run's first beat: S
    out, mask = apply_sv_runs(logits, rr, (0.8, 0.2, 0.9))
    assert np.flatnonzero(mask).tolist() == list(range(32, 39))
    assert (out[32:39].argmax(axis=1) == 1).all() and (out[:31].argmax(axis=1) == 0).all()
    np.testing.assert_array_equal(out[~mask], logits[~mask])
    p = lambda z: np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(p(out[33])[1], p(logits[33])[0] + p(logits[33])[1], rtol=1e-4)
    np.testing.assert_allclose(p(out[33])[2:], p(logits[33])[2:], rtol=1e-4)
    with_v = logits.copy()
    with_v[35] = [0.0, 1.0, 3.0, -1.0, -2.0]
    assert not apply_sv_runs(with_v, rr, (0.8, 0.2, 0.9))[1].any()
    no_s = logits.copy()
    no_s[31] = logits[30]
    assert not apply_sv_runs(no_s, rr, (0.8, 0.2, 0.9))[1].any()
    off, none = apply_sv_runs(logits, rr, (0.0, 0.0, 0.0))
    assert not none.any() and np.array_equal(off, logits)


def test_on_time_s_gate_moves_s_to_n_for_beats_neither_early_nor_fast():
    """Five beats read as S: premature, in a fast run, late (an escape beat: N in AAMI), on time, and one on time read
    as N. The premature and the fast one stay S; the late and the on-time ones become N, their S probability moved
    to N (the others' unchanged); the gate off moves nothing."""
    from ecgapp.beats import RR_FEATURES
    from ecgapp.rhythm import apply_s_gate, neither_early_nor_fast

    col = {c: RR_FEATURES.index(c) for c in ("pre_rr_norm", "pre_rr_local")}
    rr = np.ones((5, len(RR_FEATURES)), np.float32)
    rr[0, col["pre_rr_local"]] = 0.75  # premature
    rr[1, col["pre_rr_norm"]] = 0.6  # a beat of a run faster than the patient's usual rate, not early within it
    rr[2, col["pre_rr_local"]] = 1.5  # late
    logits = np.tile(np.array([1.0, 3.0, 0.5, 0.2, -1.0], np.float32), (5, 1))
    logits[4] = [3.0, 1.0, 0.5, 0.2, -1.0]  # on time, read as N: nothing to do
    gate = (0.9, 0.8)
    assert neither_early_nor_fast(rr, *gate).tolist() == [False, False, True, True, True]
    out, moved = apply_s_gate(logits, rr, gate)
    assert moved.tolist() == [False, False, True, True, False]
    np.testing.assert_array_equal(out[~moved], logits[~moved])
    p = lambda z: np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(p(out[3])[0], p(logits[3])[0] + p(logits[3])[1], rtol=1e-4)
    np.testing.assert_allclose(p(out[3])[[2, 3, 4]], p(logits[3])[[2, 3, 4]], rtol=1e-4)
    assert out[3].argmax() == 0
    off, none = apply_s_gate(logits, rr, (0.0, 0.0))
    assert not none.any() and np.array_equal(off, logits)
    assert apply_s_gate(logits, rr, (0.7, 0.5))[1].tolist() == [True, True, True, True, False]  # nothing is early
