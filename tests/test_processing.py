"""Resampling and filtering: frequency response, zero phase, NaN masks, and rate changes on real ECG."""

from __future__ import annotations

import numpy as np
import pytest

from ecgapp.mitdb import load_record
from ecgapp.processing import MODEL_FS, bandpass, clean, resample, resample_samples


def _sine(freq, fs, seconds=20.0):
    t = np.arange(int(seconds * fs)) / fs
    return np.sin(2 * np.pi * freq * t), t


@pytest.mark.parametrize("fs_in", [128.0, 250.0, 257.3, 500.0, 1000.0])
def test_resample_is_accurate(fs_in):
    x, _ = _sine(7.0, fs_in)
    y = resample(x, fs_in, MODEL_FS)
    assert y.dtype == np.float32 and abs(y.size - x.size * MODEL_FS / fs_in) <= 1
    t = np.arange(y.size) / MODEL_FS
    inner = slice(int(MODEL_FS), y.size - int(MODEL_FS))  # edges of a finite FIR are not judged
    assert np.abs(y[inner] - np.sin(2 * np.pi * 7.0 * t[inner])).max() < 0.01


def test_resample_keeps_two_dimensions_and_identity():
    x = np.random.default_rng(0).normal(size=(1000, 3))
    assert resample(x, 500.0, 250.0).shape == (500, 3)
    np.testing.assert_allclose(resample(x, 360.0, 360.0), x.astype(np.float32))


def test_resample_carries_the_nan_mask():
    x, _ = _sine(5.0, 250.0)
    x[1000:1500] = np.nan  # 4.0 s to 6.0 s
    y = resample(x, 250.0, MODEL_FS)
    t = np.arange(y.size) / MODEL_FS
    assert np.isnan(y[(t > 4.0) & (t < 6.0 - 1 / 250)]).all()
    assert np.isfinite(y[(t < 3.95) | (t > 6.05)]).all()


def test_resample_samples():
    np.testing.assert_array_equal(resample_samples([0, 250, 251, 1000], 250.0, 360.0), [0, 360, 361, 1440])


def _amplitude(y, fs):
    core = y[int(5 * fs): -int(5 * fs)]
    return np.sqrt(2 * np.mean(core ** 2))


def test_bandpass_response():
    fs = MODEL_FS
    assert abs(_amplitude(bandpass(_sine(10.0, fs)[0], fs), fs) - 1) < 0.05  # QRS/T band passes
    assert _amplitude(bandpass(_sine(0.1, fs, 60)[0], fs), fs) < 0.05  # baseline wander removed
    assert _amplitude(bandpass(_sine(60.0, fs)[0], fs), fs) < 0.05  # 60 Hz mains hum removed
    assert _amplitude(bandpass(_sine(50.0, fs)[0], fs), fs) < 0.2  # 50 Hz mains strongly reduced


def test_bandpass_is_zero_phase():
    fs = MODEL_FS
    x = np.zeros(int(10 * fs))
    peaks = np.array([1000, 1400, 2500])
    for p in peaks:  # 80 ms Gaussian pulses: crude QRS complexes
        x += np.exp(-0.5 * ((np.arange(x.size) - p) / (0.02 * fs)) ** 2)
    y = bandpass(x, fs)
    for p in peaks:
        assert np.argmax(y[p - 30: p + 30]) == 30


def test_bandpass_filters_around_masked_runs():
    x, _ = _sine(10.0, MODEL_FS)
    x[2000:3000] = np.nan
    y = bandpass(x, MODEL_FS)
    assert np.isnan(y[2000:3000]).all()
    assert np.isfinite(y[:2000]).all() and np.isfinite(y[3000:]).all()


def test_clean_on_real_ecg_aligns_r_peaks_across_rates():
    """Record 100 at 360 Hz and resampled to 250 Hz: cleaned beats peak where the annotations say."""
    rec = load_record("100")
    x = rec.lead_signal("MLII")[: int(120 * rec.fs)]
    ann = rec.annotations.sample[(rec.annotations.symbol == "N") & (rec.annotations.sample < x.size - 400)]
    ann = ann[ann > 400]
    native = clean(x, 360.0)
    x250 = resample(x, 360.0, 250.0)
    from_250 = clean(x250, 250.0)
    assert native.shape == x.shape and abs(from_250.size - x.size) <= 2
    r360 = ann
    offsets = [np.argmax(native[r - 18: r + 19]) - 18 for r in r360]  # within +-50 ms
    offsets_250 = [np.argmax(from_250[r - 18: r + 19]) - 18 for r in r360]
    assert np.median(np.abs(offsets)) <= 2  # annotation is on the R peak (<= 5.6 ms)
    assert np.median(np.abs(np.subtract(offsets, offsets_250))) <= 1  # rate change moves nothing
    assert np.corrcoef(native[400:-400], from_250[400:x.size - 400])[0, 1] > 0.99


def test_bandpass_in_blocks_equals_bandpass_whole(monkeypatch):
    """A Holter lead is filtered in blocks with margins (bounded memory); the result is the whole-lead one."""
    from ecgapp import processing

    x = np.tile(load_record("100").lead_signal("MLII"), 2)[: 1_000_000].astype(np.float32)
    x[400_000:400_500] = np.nan  # a masked run: the blocks restart on each side of it
    whole = bandpass(x, MODEL_FS)
    monkeypatch.setattr(processing, "FILTER_BLOCK", 100_000)
    blocks = bandpass(x, MODEL_FS)
    assert blocks.dtype == np.float32 and np.array_equal(np.isnan(blocks), np.isnan(whole))
    ok = ~np.isnan(whole)
    assert np.abs(blocks[ok] - whole[ok]).max() < 1e-5  # mV: float32 resolution at a few mV is ~5e-7
