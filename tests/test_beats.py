"""Beat windows and RR context, on synthetic arrays (exact values) and on real MIT-BIH records."""

from __future__ import annotations

import numpy as np
import pytest

from ecgapp import mitdb
from ecgapp.aami import AAMI_CLASSES, class_counts, is_beat
from ecgapp.beats import RR_FEATURES, WINDOW_BEFORE, WINDOW_LENGTH, cut_windows, extract_beats, rr_features
from ecgapp.errors import InputError
from ecgapp.processing import resample, resample_samples
from ecgapp.records import Annotations, make_record


def test_cut_windows_exact_and_edge_padded():
    x = np.arange(100, dtype=np.float32)
    w = cut_windows(x, np.array([10, 50, 95]), before=5, after=7)
    assert w.shape == (3, 12)
    np.testing.assert_array_equal(w[0], np.arange(5, 17))
    np.testing.assert_array_equal(w[1], np.arange(45, 57))
    np.testing.assert_array_equal(w[2], [90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 99, 99])  # last sample held
    w0 = cut_windows(x, np.array([2]), before=5, after=3)
    np.testing.assert_array_equal(w0[0], [0, 0, 0, 0, 1, 2, 3, 4])


def test_rr_features_regular_and_premature():
    t = np.arange(20, dtype=float)  # 60 bpm
    t[10] -= 0.4  # premature beat, then compensatory pause
    rr = rr_features(t)
    assert rr.shape == (20, 10)
    assert rr[10, 0] == pytest.approx(0.6) and rr[10, 1] == pytest.approx(1.4)
    assert rr[10, 3] == pytest.approx(0.6) and rr[10, 4] == pytest.approx(1.4)  # median RR is 1 s
    assert rr[0, 0] == rr[0, 1] == pytest.approx(1.0)  # first beat reuses its post RR
    assert rr[10, 2] == pytest.approx(1.0, abs=0.01)  # local mean smooths the pair out
    assert rr[10, 6] == pytest.approx(0.6, abs=0.01) and rr[10, 7] == pytest.approx(1.4, abs=0.01)
    assert rr[10, 8] == pytest.approx(0.6) and rr[11, 8] == pytest.approx(1.4 / 0.6) and rr[5, 8] == 1.0
    assert rr[10, 9] == pytest.approx(0.0)  # one early beat in a steady rhythm is not an irregular rhythm
    af = rr_features(np.cumsum(np.random.default_rng(0).uniform(0.5, 1.3, 40)))
    assert np.median(af[:, 9]) > 0.15  # an irregularly irregular rhythm is
    broken = np.zeros(19, bool)
    broken[3] = True
    t2 = np.arange(20, dtype=float)
    t2[4:] += 9  # a 10 s interval across missing data
    assert rr_features(t2, broken)[4, 0] == pytest.approx(1.0)  # replaced by the median
    one = rr_features(np.array([3.0]))
    assert np.isnan(one[0, :3]).all() and (one[0, 3:9] == 1).all() and one[0, 9] == 0


def test_record_100_beats():
    rec = mitdb.load_record("100")
    beats = extract_beats(rec)
    assert len(beats) == 2273 and beats.lead == "MLII" and beats.skipped == 0
    assert beats.windows.shape == (2273, WINDOW_LENGTH) and beats.windows.dtype == np.float32
    assert class_counts(beats.label) == {"N": 2239, "S": 33, "V": 1, "F": 0, "Q": 0}
    np.testing.assert_allclose(beats.time_s, beats.sample / 360.0)
    # the R peak sits at column WINDOW_BEFORE: the largest deflection of a normal beat is within 10 ms
    normal = beats.windows[beats.label == 0]
    peak = np.argmax(np.abs(normal[:, WINDOW_BEFORE - 18: WINDOW_BEFORE + 18]), axis=1) - 18
    assert np.median(np.abs(peak)) <= 3
    assert 0.5 < np.median(normal[:, WINDOW_BEFORE]) < 3.0  # R amplitude in mV after filtering
    v5 = extract_beats(rec, lead="V5")
    assert v5.lead == "V5" and not np.allclose(v5.windows, beats.windows)


def test_record_119_rhythm_context():
    """Premature ventricular beats come early and are followed by a compensatory pause."""
    beats = extract_beats(mitdb.load_record("119"))
    rr = beats.rr
    v, n = beats.label == AAMI_CLASSES.index("V"), beats.label == AAMI_CLASSES.index("N")
    assert v.sum() == 444
    assert np.median(rr[v, 3]) < 0.85 < np.median(rr[n, 3])  # pre-RR / usual RR
    assert np.median(rr[v, 4]) > 1.15  # post-RR / usual RR
    assert 0.5 < np.median(rr[:, 0]) < 1.5  # seconds


def test_every_ds1_ds2_beat_is_cut_with_its_class():
    """All beats of DS1 and DS2 come through extract_beats with their AAMI class, none lost."""
    for names, want in ((mitdb.DS1, {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8}),
                        (mitdb.DS2, {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7})):
        total = dict.fromkeys(AAMI_CLASSES, 0)
        for name in names:
            beats = extract_beats(mitdb.load_record(name))
            assert beats.lead == "MLII" and beats.skipped == 0
            assert np.isfinite(beats.windows).all() and np.isfinite(beats.rr).all()
            for k, c in class_counts(beats.label).items():
                total[k] += c
        assert total == want


def test_same_beats_from_a_record_at_another_rate():
    """Record 100 resampled to 250 Hz gives the same beats: one preprocessing path for every rate."""
    rec = mitdb.load_record("100")
    n = int(300 * rec.fs)
    ann = rec.annotations
    inside = ann.sample < n
    rec250 = make_record(
        resample(rec.signal[:n], 360.0, 250.0), 250.0, name="100@250", leads=rec.leads,
        annotations=Annotations(resample_samples(ann.sample[inside], 360.0, 250.0), ann.symbol[inside]),
    )
    native = extract_beats(make_record(rec.signal[:n], 360.0, name="100", leads=rec.leads,
                                       annotations=Annotations(ann.sample[inside], ann.symbol[inside])))
    other = extract_beats(rec250)
    assert len(other) == len(native) and other.fs == 250.0
    np.testing.assert_allclose(other.time_s, native.time_s, atol=0.5 / 250)
    np.testing.assert_array_equal(other.label, native.label)
    np.testing.assert_allclose(other.rr, native.rr, atol=0.01)  # 250 Hz rounds times to 4 ms
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(native.windows[5:-5], other.windows[5:-5])]
    assert np.median(corr) > 0.99 and np.min(corr) > 0.95


def test_detected_peaks_and_masked_gaps():
    rec = mitdb.load_record("100")
    x = rec.signal[: int(60 * rec.fs)].copy()
    x[7200:9000] = np.nan  # 20 s to 25 s missing: masked, not filled
    gappy = make_record(x, 360.0, name="gappy", leads=rec.leads)
    beat = is_beat(rec.annotations.symbol) & (rec.annotations.sample < x.shape[0])
    peaks = rec.annotations.sample[beat]
    beats = extract_beats(gappy, r_peaks=peaks)
    in_gap = (peaks > 7200 - 170) & (peaks < 9000 + 95)
    assert beats.skipped == in_gap.sum() > 0 and len(beats) == (~in_gap).sum()
    assert (beats.label == -1).all() and (beats.symbol == "").all()
    assert np.isfinite(beats.windows).all()
    assert beats.rr[:, 0].max() < 1.5  # the interval across the gap is not taken as a 5 s pause
    with pytest.raises(InputError, match="no reference beat annotations"):
        extract_beats(gappy)
    with pytest.raises(InputError, match="R-peak indices must lie in"):
        extract_beats(gappy, r_peaks=[10, x.shape[0]])


def test_rr_features_of_short_strips():
    """Fewer beats than the local window (10 intervals): every column still has one row per beat."""
    for n in (2, 3, 5, 9, 10, 11):
        rr = rr_features(np.arange(n) * 0.8)
        assert rr.shape == (n, len(RR_FEATURES)) and np.isfinite(rr).all()
        np.testing.assert_allclose(rr[:, 2], 0.8, rtol=1e-6)
