"""Noise is not an ECG: the beat-template correlation flags it, in the library, the CLI and the app."""

import numpy as np
import pytest

from ecgapp.beats import extract_beats
from ecgapp.detection import detect_r_peaks
from ecgapp.features import beat_inputs
from ecgapp.mitdb import load_nstdb, load_record
from ecgapp.quality import NOISE_MEDIAN_R, looks_like_noise, template_correlation
from ecgapp.records import make_record


def detected_r(rec) -> np.ndarray:
    lead = rec.leads[rec.lead_index(None)]
    beats = extract_beats(rec, r_peaks=detect_r_peaks(rec.lead_signal(lead), rec.fs, lead=lead))
    return template_correlation(beat_inputs(beats)[0])


def white_noise(seconds: int = 60):
    return make_record(np.random.default_rng(0).standard_normal(360 * seconds), 360, name="noise")


@pytest.mark.parametrize("name", ["100", "208", "222", "203"])  # 208 and 222 have the lowest medians of mitdb
def test_real_records_are_not_noise(name):
    r = detected_r(load_record(name))
    assert np.median(r) > NOISE_MEDIAN_R + 0.15 and not looks_like_noise(r)


def test_white_noise_and_noise_records_are_flagged():
    r = detected_r(white_noise())
    assert len(r) > 100  # the detector does find "beats" in noise ...
    assert looks_like_noise(r) and np.median(r) < 0.4  # ... and they do not repeat one shape
    for name in ("bw", "ma"):
        assert looks_like_noise(detected_r(load_nstdb(name)))


def test_correlation_of_simple_shapes():
    t = np.linspace(0, 1, 256)
    beat = np.exp(-((t - 0.5) / 0.03) ** 2)
    waves = np.stack([np.stack([beat, beat]), np.stack([2 * beat + 1, beat]), np.stack([-beat, beat]),
                      np.stack([np.zeros(256), beat])]).astype(np.float32)
    np.testing.assert_allclose(template_correlation(waves), [1.0, 1.0, -1.0, 0.0], atol=1e-5)
    assert template_correlation(np.zeros((0, 2, 256))).shape == (0,)
    assert not looks_like_noise(np.array([0.1, 0.1]))  # too few beats to say


def test_cli_warns_on_noise(tmp_path, capsys):
    import wfdb

    from ecgapp.__main__ import main

    rec = white_noise()
    wfdb.wrsamp("noise", fs=360, units=["mV"], sig_name=["MLII"], p_signal=rec.signal.astype(np.float64),
                fmt=["16"], write_dir=str(tmp_path))
    assert main(["classify", str(tmp_path / "noise"), "--beats", "detect", "--out", str(tmp_path / "n.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning: noise: the beats do not repeat one shape" in err and "looks like noise" in err
