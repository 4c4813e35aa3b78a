"""Rhythm augmentations of train.py: synthetic atrial premature beats and AF re-timing (ecgapp/augment.py)."""

import numpy as np

from ecgapp.augment import irregular_rhythm, premature_beats, sinus_arrhythmia, supraventricular_runs, ventricular_runs
from ecgapp.beats import RR_FEATURES

PRE, PRE_LOCAL = RR_FEATURES.index("pre_rr_s"), RR_FEATURES.index("pre_rr_local")
PRE_PREV = RR_FEATURES.index("pre_rr_prev")


def test_synthetic_premature_beats_are_early_and_labelled_s():
    rng = np.random.default_rng(0)
    t = np.arange(60) * 0.8
    for _ in range(20):
        rr, labels = premature_beats(t, np.zeros(60, int), np.arange(10, 50), rng)
        moved = np.flatnonzero(labels == 1)
        assert 1 <= moved.size <= 3 and ((moved >= 10) & (moved < 50)).all()
        assert (rr[moved, PRE] <= 0.8 * (1 - 0.15) + 1e-6).all() and (rr[moved, PRE] >= 0.8 * 0.6 - 1e-6).all()
        assert (rr[moved, PRE_LOCAL] < 0.9).all()  # early against the local rhythm
        others = np.setdiff1d(np.arange(60), np.concatenate([moved, moved + 1]))
        np.testing.assert_allclose(rr[others[others > 0], PRE], 0.8, atol=1e-6)  # the rest keeps its rhythm
        assert set(np.unique(labels)) == {0, 1}


def test_no_candidates_no_change():
    t = np.arange(10) * 0.8
    rr, labels = premature_beats(t, np.zeros(10, int), np.array([0, 1, 9]), np.random.default_rng(0))
    assert not labels.any() and np.allclose(rr[:, PRE], 0.8)


def assert_run(rr, labels, label, beats, rate, pause, sinus=0.8) -> np.ndarray:
    """A synthetic run in a stretch whose sinus RR is ``sinus`` s (candidates 10-49): ``beats`` consecutive beats
    labelled ``label``, each ``rate`` times the sinus interval after the one before, then a pause of at most ``pause``
    sinus intervals and the sinus rhythm again. Returns the run's indices."""
    run = np.flatnonzero(labels == label)
    assert beats[0] <= run.size <= beats[1] and (np.diff(run) == 1).all() and 10 <= run[0] < 50
    assert set(np.unique(labels)) == {0, label}
    assert (rr[run, PRE] <= sinus * rate[1] + 1e-6).all() and (rr[run, PRE] >= sinus * rate[0] - 1e-6).all()
    np.testing.assert_allclose(rr[run[1:], PRE], rr[run[0], PRE], atol=1e-6)  # a steady run
    after = run[-1] + 1
    assert sinus - 1e-6 <= rr[after, PRE] <= sinus * pause + 1e-6  # a pause, then the sinus rhythm again
    np.testing.assert_allclose(rr[after + 1:, PRE], sinus, atol=1e-6)
    return run


def test_synthetic_ventricular_run_is_fast_labelled_v_and_drawn_from_the_patients_pvcs():
    rng = np.random.default_rng(0)
    t = np.arange(60) * 0.8
    normal = np.zeros((60, 8), np.float32)
    pvcs = np.arange(1, 4, dtype=np.float32)[:, None] * np.ones((1, 8), np.float32)  # three PVC shapes: 1, 2, 3
    for _ in range(20):
        rr, labels, windows = ventricular_runs(t, np.zeros(60, int), normal, pvcs, np.arange(10, 50), rng)
        run = assert_run(rr, labels, 2, beats=(3, 8), rate=(0.45, 0.8), pause=1.6)
        assert np.isin(windows[run, 0], [1, 2, 3]).all() and not windows[labels == 0].any()
    rr, labels, windows = ventricular_runs(t, np.zeros(60, int), normal, pvcs[:0], np.arange(10, 50), rng)
    assert not labels.any() and np.allclose(rr[1:, PRE], 0.8)  # no PVCs to draw on: nothing changes


def test_synthetic_supraventricular_run_is_abrupt_fast_steady_and_labelled_s():
    rng = np.random.default_rng(1)
    for _ in range(20):
        rr, labels = supraventricular_runs(np.arange(60) * 0.8, np.zeros(60, int), np.arange(10, 50), rng)
        run = assert_run(rr, labels, 1, beats=(3, 10), rate=(0.45, 0.75), pause=1.4)
        assert rr[run[0], PRE_PREV] <= 0.75 + 1e-6  # abrupt: the first beat of the run is early against the last


def test_sinus_arrhythmia_is_gradual_keeps_the_mean_rate_and_moves_beats_against_the_local_rhythm():
    """The lesson is "early against the rhythm, but reached gradually, is not S": the rate swings (some beats 10% or
    more off the local rhythm), yet no interval is as abrupt as a synthetic SVT's onset (at most 0.75 of the one
    before), and the stretch keeps its length."""
    rng = np.random.default_rng(2)
    t = np.arange(64) * 0.8
    swings = []
    for _ in range(50):
        rr = sinus_arrhythmia(t, rng)
        assert abs(rr[1:, PRE].sum() - (t[-1] - t[0])) < 1e-3
        assert rr[:, PRE_PREV].min() > 0.75
        swings.append(np.abs(rr[:, PRE_LOCAL] - 1).max())
    assert np.median(swings) > 0.1 and min(swings) > 0.02
    a, b = sinus_arrhythmia(t, np.random.default_rng(3)), sinus_arrhythmia(t, np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_af_retiming_keeps_the_mean_rate():
    t = np.arange(200) * 0.8
    rr = irregular_rhythm(t, np.random.default_rng(0))
    assert abs(rr[1:, PRE].mean() - 0.8) < 0.05 and rr[1:, PRE].std() > 0.05


def test_an_early_beat_is_redrawn_on_the_previous_t_wave():
    """Record 100 (RR about 0.8 s: windows of 0.71 s do not overlap): a beat moved 35% earlier gets the
    previous beat's T wave under its P wave (the T wave of 100 is about 0.3 mV tall); no other beat changes,
    and a beat left at its spacing is returned as it was."""
    from ecgapp.augment import early_waves
    from ecgapp.beats import WINDOW_BEFORE, extract_beats
    from ecgapp.mitdb import load_record

    beats = extract_beats(load_record("100"))
    w, pre = beats.windows[100:110], beats.rr[100:110, PRE]
    assert np.array_equal(early_waves(w, pre, pre), w)
    new = pre.copy()
    new[5] *= 0.65
    out = early_waves(w, pre, new)
    assert np.array_equal(np.delete(out, 5, axis=0), np.delete(w, 5, axis=0))
    spacing = int(round(new[5] * 360))
    reach = 256 - spacing
    tail = w[4] - w[4, -1]
    np.testing.assert_allclose(out[5, :reach] - w[5, :reach], tail[spacing:], atol=1e-5)
    assert np.ptp(out[5, :WINDOW_BEFORE] - w[5, :WINDOW_BEFORE]) > 0.1  # mV: the T wave is under the P wave
    assert np.array_equal(out[5, reach:], w[5, reach:])  # the beat's own QRS and T are untouched
