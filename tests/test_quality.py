"""Noise is not an ECG: the beat-template correlation flags it, in the library, the CLI and the app."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

from ecgapp.beats import extract_beats
from ecgapp.detection import detect_r_peaks
from ecgapp.features import beat_inputs
from ecgapp.mitdb import load_nstdb, load_record
from ecgapp import quality
from ecgapp.analysis import analyse
from ecgapp.evaluation import noise_for_snr
from ecgapp.exports import write_wfdb_annotations
from ecgapp.model import load_model
from ecgapp.processing import clean
from ecgapp.quality import NOISE_MEDIAN_R, beat_repeats, looks_like_noise, stretch_quality, template_correlation
from ecgapp.records import make_record
from ecgapp.review import Review, reviewed
from ecgapp.summary import heart_rate


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


# ------------------------------------------------------------------------------ signal quality per stretch
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "hybrid"


@pytest.fixture(scope="module")
def model():
    return load_model(WEIGHTS, device="cpu")[0]


def stretch_flags(rec, noisy: np.ndarray | None = None):
    """(unreadable per stretch, truth per stretch: over half noisy) on the default lead, detected beats."""
    x = rec.lead_signal(None).astype(np.float64)
    beats = extract_beats(rec, r_peaks=detect_r_peaks(x, rec.fs))
    q = stretch_quality(clean(x, rec.fs), x, beats)
    if noisy is None:
        return q.unreadable, None
    truth = np.array([noisy[int(a * rec.fs):int(b * rec.fs)].mean() > 0.5 for a, b in zip(q.start_s, q.end_s)])
    return q.unreadable, truth


def nstdb_noisy(n: int, fs: float) -> np.ndarray:
    """nstdb's test records: noise in alternating 2-minute stretches after the first 5 minutes."""
    mask = np.zeros(n, bool)
    for start in range(int(300 * fs), n, int(240 * fs)):
        mask[start:start + int(120 * fs)] = True
    return mask


def test_unreadable_stretches_of_nstdb_noise_are_found_and_clean_ones_left_alone():
    rec = load_nstdb("119e_6")  # electrode-motion noise at -6 dB in alternating 2-minute stretches
    flags, truth = stretch_flags(rec, nstdb_noisy(rec.signal.shape[0], rec.fs))
    assert flags[truth].mean() > 0.6  # most noisy stretches are called unreadable ...
    assert flags[~truth].mean() < 0.03  # ... the clean ones between them are not
    rec = load_nstdb("119e24")  # the same noise at 24 dB: readable
    flags, truth = stretch_flags(rec, nstdb_noisy(rec.signal.shape[0], rec.fs))
    assert flags.mean() < 0.02


@pytest.mark.parametrize("name", ["100", "119", "233"])  # 119 bigeminy, 233 frequent multiform PVCs
def test_clean_records_with_frequent_pvcs_are_readable(name):
    flags, _ = stretch_flags(load_record(name))
    assert flags.mean() < 0.01


def test_beats_repeat_in_bigeminy_but_noise_does_not():
    t = np.linspace(-1, 1, 256)
    n_beat, v_beat = np.exp(-(t / 0.05) ** 2), -np.exp(-(t / 0.2) ** 2)
    bigeminy = np.stack([n_beat if k % 2 == 0 else v_beat for k in range(20)])
    assert beat_repeats(bigeminy).min() > 0.99  # each PVC matches the PVC two beats away
    noise = np.random.default_rng(0).standard_normal((20, 256))
    assert np.median(beat_repeats(noise)) < 0.3
    assert beat_repeats(bigeminy[:1]).tolist() == [-1.0]  # one beat: nothing to repeat


def test_a_pause_is_never_unreadable():
    """A stretch with fewer than MIN_BEATS beats (a sinus pause, asystole) is not called unreadable."""
    feats = np.array([[-1.0, 0.0, 0.0, 3.0]])  # the worst of every measure
    assert quality.stretch_scores(feats)[0] > quality.UNREADABLE_SCORE
    rec = load_record("100")
    x = rec.lead_signal(None).astype(np.float64)[: 360 * 60].copy()
    x[360 * 20: 360 * 32] = np.random.default_rng(1).normal(0, 0.01, 360 * 12)  # 12 s of flat line, no beats
    rec = make_record(x[:, None], 360, name="pause")
    beats = extract_beats(rec, r_peaks=detect_r_peaks(x, 360))
    q = stretch_quality(clean(x, 360), x, beats)
    flat = slice(4, 6)  # 20-30 s: no beat at all
    assert (q.beats[flat] < quality.MIN_BEATS).all()
    assert (q.score[flat] > quality.UNREADABLE_SCORE).all()  # a flat line scores as unreadable ...
    assert not q.unreadable.any()  # ... and the beat count alone keeps it readable


def test_the_app_labels_unreadable_beats_q_and_keeps_them_out_of_heart_rate_and_burden(model):
    """Record 100 with muscle noise at -6 dB added over two minutes: the detector finds false beats there; the
    analysis labels them Q, keeps the network's label, and heart rate and burden come from the clean part."""
    rec = load_record("100")
    ten = 360 * 600
    clean_part = make_record(rec.signal[:ten], 360, name="100", leads=rec.leads)
    x = rec.signal[:ten].astype(np.float64).copy()
    add = noise_for_snr(rec, load_nstdb("ma").signal[:, 0].astype(np.float64), -6, 0)
    x[360 * 240: 360 * 360, 0] += add[360 * 240: 360 * 360]
    noisy = make_record(x, 360, name="100 noisy", leads=rec.leads)
    base = analyse(model, clean_part, source="detected")
    a = analyse(model, noisy, source="detected")
    t = a.table
    inside = (t["time_s"] >= 240) & (t["time_s"] < 360)
    assert t.loc[t["unreadable"], "label"].eq("Q").all() and (t["network_label"] != "").all()
    assert t.loc[inside, "unreadable"].mean() > 0.6 and t.loc[~inside, "unreadable"].mean() < 0.02
    spans = a.quality.spans()
    assert spans and all(230 <= s0 and s1 <= 370 for s0, s1 in spans)
    hr, hr0 = a.summary["heart_rate_bpm"], base.summary["heart_rate_bpm"]
    assert abs(hr["max"] - hr0["max"]) < 10 and abs(hr["mean"] - hr0["mean"]) < 5
    readable = ~t["unreadable"]
    assert a.summary["unreadable_beats"] == int(t["unreadable"].sum())
    assert a.summary["burden_pct"]["V"] == pytest.approx(100 * ((t["label"] == "V") & readable).sum() / readable.sum())
    # without the quality check the noise would have fed the heart rate
    assert heart_rate(t["time_s"].to_numpy())["max"] > hr0["max"] + 10
    # a reader's label makes a beat count again; the export says which beats were unreadable
    review = Review(len(t))
    first = int(np.flatnonzero(t["unreadable"])[0])
    review.relabel([first], "N")
    r = reviewed(a, review)
    assert r.table["label"].iloc[first] == "N" and r.table["label_by"].iloc[first] == "reader"
    assert not r.table["unreadable"].iloc[first] and r.table["unreadable"].sum() == t["unreadable"].sum() - 1
    assert set(r.table.loc[r.table["unreadable"], "label_by"]) == {"quality"}
    import wfdb
    with tempfile.TemporaryDirectory() as tmp:
        path = write_wfdb_annotations(r.table, "noisy", 360, Path(tmp))
        ann = wfdb.rdann(str(path.with_suffix("")), path.suffix[1:])
    notes = np.asarray(ann.aux_note)
    assert (notes[r.table["unreadable"].to_numpy()] == "unreadable").all() and notes[first] == "reader"


def test_beat_repeats_in_blocks_equal_the_whole():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3000, 64)).astype(np.float32)
    w[::2] += 3 * np.sin(np.arange(64))  # every other beat shares a shape
    whole = beat_repeats(w, block=10**6)
    np.testing.assert_array_equal(beat_repeats(w, block=7), whole)
    assert whole[::2].min() > 0.7 and np.median(whole[1::2]) < 0.5
