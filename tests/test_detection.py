"""QRS detection (ecgapp/qrs.py via detection.detect_r_peaks) on real records, and beat matching.

Bars here are correctness bars that a broken detector fails; the accuracy and speed figures over all 48
records live in benchmarks/bench_detect.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgapp import InputError, load_nstdb, load_record
from ecgapp import qrs
from ecgapp.aami import is_beat
from ecgapp.detection import detect_r_peaks, match_beats
from ecgapp.processing import resample, resample_samples


def reference(rec, n=None):
    ann = rec.annotations
    keep = is_beat(ann.symbol) if n is None else is_beat(ann.symbol) & (ann.sample < n)
    return ann.sample[keep]


def scores(ref, det, fs):
    ri, di = match_beats(ref, det, int(round(0.15 * fs)))
    return ri.size / ref.size, ri.size / det.size, np.abs(ref[ri] - det[di])


@pytest.mark.parametrize("name", ["100", "208"])  # 208: frequent multiform ventricular beats and couplets
def test_whole_records_detected_on_the_reference_r_peaks(name):
    rec = load_record(name)
    det = detect_r_peaks(rec.lead_signal(), rec.fs)
    se, ppv, offset = scores(reference(rec), det, rec.fs)
    assert se >= 0.995 and ppv >= 0.995, (se, ppv)
    assert np.median(offset) <= 2  # on the fiducial point (within 6 ms), not just near it


def test_a_record_at_250_hz_stays_aligned_with_the_reference():
    rec = load_record("119")
    det = detect_r_peaks(resample(rec.lead_signal(), 360.0, 250.0), 250.0)
    se, ppv, offset = scores(resample_samples(reference(rec), 360.0, 250.0), det, 250.0)
    assert se >= 0.99 and ppv >= 0.99
    assert np.median(offset) / 250.0 <= 0.004 and np.percentile(offset, 95) / 250.0 <= 0.02


def test_inverted_and_low_amplitude_leads():
    rec = load_record("100")
    x = rec.lead_signal()
    upright = detect_r_peaks(x, rec.fs)
    inverted = detect_r_peaks(-x, rec.fs)
    assert inverted.size == upright.size and np.abs(inverted - upright).max() <= 1
    tiny = detect_r_peaks(0.05 * x, rec.fs)  # R waves of ~0.1 mV
    se, ppv, _ = scores(reference(rec), tiny, rec.fs)
    assert se >= 0.995 and ppv >= 0.995


@pytest.mark.parametrize("name, min_se, min_ppv", [("118e12", 0.99, 0.93), ("119e06", 0.97, 0.72)])
def test_noisy_records_from_the_noise_stress_test_database(name, min_se, min_ppv):
    # electrode-motion noise (12 and 6 dB) from minute 5 on, in alternate 2-minute stretches; the bars sit just
    # under what the detector reaches (README "Beat detection": xqrs has a better +P here)
    rec = load_nstdb(name)
    se, ppv, _ = scores(reference(rec), detect_r_peaks(rec.lead_signal(), rec.fs), rec.fs)
    assert se >= min_se and ppv >= min_ppv, (se, ppv)


def test_a_fast_rhythm_keeps_every_beat():
    rec = load_record("100")
    n = int(120 * rec.fs)
    x = rec.lead_signal()[:n]
    det = detect_r_peaks(x, 3 * rec.fs)  # the same samples read three times faster: about 225 bpm
    se, ppv, _ = scores(reference(rec, n), det, 3 * rec.fs)
    assert se >= 0.97 and ppv >= 0.99, (se, ppv)  # a fixed 300 ms refractory period would find half


def test_flat_saturated_and_empty_leads_are_refused():
    with pytest.raises(InputError, match="lead II: the lead is flat"):
        detect_r_peaks(np.zeros(3600, np.float32), 360.0, lead="lead II")
    x = load_record("100").lead_signal()[:36_000]
    with pytest.raises(InputError, match="saturated"):
        detect_r_peaks(np.clip(x, -0.3, -0.2), 360.0)
    with pytest.raises(InputError, match="no valid samples"):
        detect_r_peaks(np.full(3600, np.nan, np.float32), 360.0)


def test_blocks_give_the_same_beats_as_one_pass(monkeypatch):
    rec = load_record("203")  # irregular, noisy: blocks must join without losing or doubling beats
    x = rec.lead_signal()[: int(600 * rec.fs)]
    whole = detect_r_peaks(x, rec.fs)
    monkeypatch.setattr(qrs, "BLOCK_S", 45.0)
    blocked = detect_r_peaks(x, rec.fs)
    assert abs(blocked.size - whole.size) <= 2
    ri, _ = match_beats(whole, blocked, 3)
    assert ri.size >= whole.size - 2


def test_masked_stretches_hold_no_beats():
    rec = load_record("100")
    x = rec.lead_signal()[: int(120 * rec.fs)].copy()
    x[int(30 * rec.fs): int(50 * rec.fs)] = np.nan
    det = detect_r_peaks(x, rec.fs)
    assert not ((det > 30 * rec.fs) & (det < 50 * rec.fs)).any()
    assert ((det > 55 * rec.fs) & (det < 120 * rec.fs)).sum() >= 80  # beats right after the gap are found


def test_match_beats_pairs_nearest_first_and_uses_each_beat_once():
    ref = np.array([100, 400, 700, 1000])
    det = np.array([105, 390, 395, 1200])
    ri, di = match_beats(ref, det, 20)
    assert ri.tolist() == [0, 1] and di.tolist() == [0, 2]  # 395 is nearer to 400 than 390; 700 missed
    assert match_beats(ref, np.array([], np.int64), 20)[0].size == 0


def test_thresholds_reject_noise_and_search_back_recovers_a_small_beat():
    times = np.arange(0.0, 20.0, 0.5)  # candidates every 0.5 s: beats on whole seconds, noise in between
    heights = np.where(np.isclose(times % 1.0, 0.0), 10.0, 1.0)
    beat_12 = int(np.flatnonzero(np.isclose(times, 12.0))[0])
    heights[beat_12] = 3.0  # a small beat: under the threshold, over half of it
    slopes = heights.copy()
    picked = times[qrs.select_beats(times, heights, slopes)]
    np.testing.assert_allclose(picked, np.arange(0.0, 20.0, 1.0))  # every beat, the small one by search-back
    tall_t = np.where(np.isclose(times % 1.0, 0.0), 10.0, 6.0)  # T waves 0.5 s after each beat: above
    t_slopes = np.where(tall_t == 6.0, 2.0, 10.0)  # the threshold, but with under half the beats' slope ...
    picked = times[qrs.select_beats(times, tall_t, t_slopes, qrs.QrsSettings(t_wave_s=0.6))]
    np.testing.assert_allclose(picked, np.arange(0.0, 20.0, 1.0))  # ... so they are rejected as T waves
    steep = times[qrs.select_beats(times, tall_t, np.full(times.size, 10.0), qrs.QrsSettings(t_wave_s=0.6))]
    assert steep.size > picked.size  # as steep as the beats: not T waves
