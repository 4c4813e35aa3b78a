"""python -m ecgapp classify / evaluate on real records, with a small model trained by train.py here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import wfdb

import train
from ecgapp.__main__ import main
from ecgapp.aami import is_beat
from ecgapp.mitdb import load_record
from ecgapp.processing import resample, resample_samples


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    out = tmp_path_factory.mktemp("weights") / "tiny"
    train.main(["--arch", "cnn", "--max-records", "2", "--epochs", "1", "--folds", "0",
                "--evaluate-ds2", "false", "--out", str(out)])
    return str(out)


def test_classify_writes_csv_and_wfdb_annotations(tmp_path, mitdb_copy, weights, capsys):
    record = mitdb_copy("100")
    out = tmp_path / "beats.csv"
    assert main(["classify", str(record), "--out", str(out), "--wfdb-out", str(tmp_path / "ann"),
                 "--weights", weights]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["sample", "time_s", "label", "confidence", "p_N", "p_S", "p_V", "p_F", "p_Q",
                                   "reference"]
    ref = load_record("100").annotations
    np.testing.assert_array_equal(table["sample"], ref.sample[is_beat(ref.symbol)])  # every beat, in order
    np.testing.assert_allclose(table[["p_N", "p_S", "p_V", "p_F", "p_Q"]].sum(axis=1), 1.0, atol=1e-3)
    assert set(table["label"]) <= set("NSVFQ") and (table["confidence"] >= 0.2).all()
    assert (table["reference"] == "N").sum() == 2239
    back = wfdb.rdann(str(tmp_path / "ann" / "100"), "pred")
    np.testing.assert_array_equal(back.sample, table["sample"])
    assert back.symbol == table["label"].tolist()
    assert back.aux_note[0] == f"p={table['confidence'][0]:.3f}"
    assert "2273 beats on lead MLII" in capsys.readouterr().out


def test_classify_a_record_at_another_rate_and_lead(tmp_path, weights):
    rec = load_record("119")
    n = int(120 * rec.fs)
    x = resample(rec.signal[:n], 360.0, 250.0)
    ann = rec.annotations
    keep = ann.sample < n
    wfdb.wrsamp("r250", fs=250, units=["mV", "mV"], sig_name=list(rec.leads), p_signal=x.astype(np.float64),
                fmt=["16", "16"], write_dir=str(tmp_path))
    wfdb.wrann("r250", "atr", resample_samples(ann.sample[keep], 360.0, 250.0), symbol=list(ann.symbol[keep]),
               write_dir=str(tmp_path))
    out = tmp_path / "b.csv"
    assert main(["classify", str(tmp_path / "r250"), "--out", str(out), "--lead", "V1", "--weights", weights]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    beats = is_beat(ann.symbol[keep])
    np.testing.assert_array_equal(table["sample"], resample_samples(ann.sample[keep][beats], 360.0, 250.0))
    np.testing.assert_allclose(table["time_s"], table["sample"] / 250.0, atol=1e-4)


def test_clear_errors(tmp_path, mitdb_copy, weights, capsys):
    record = mitdb_copy("100", ("hea", "dat"))
    assert main(["classify", str(record), "--out", str(tmp_path / "x.csv"), "--weights", weights]) == 2
    assert "no annotation file '.atr'" in capsys.readouterr().err
    assert main(["classify", str(record), "--weights", str(tmp_path / "none")]) == 2
    assert "no trained weights at" in capsys.readouterr().err
    annotated = mitdb_copy("101")
    assert main(["classify", str(annotated), "--lead", "V9", "--weights", weights]) == 2
    assert "no lead 'V9'; leads are MLII, V1" in capsys.readouterr().err


def test_evaluate_prints_the_aami_table(weights, capsys):
    assert main(["evaluate", "--records", "100,103", "--weights", weights]) == 0
    out = capsys.readouterr().out
    assert "macro-F1 (N, S, V)" in out and "reference \\ predicted" in out


def test_classify_with_detected_beats_needs_no_annotation_file(tmp_path, mitdb_copy, weights, capsys):
    record = mitdb_copy("100", ("hea", "dat"))  # no .atr at all
    out = tmp_path / "detected.csv"
    assert main(["classify", str(record), "--beats", "detect", "--out", str(out), "--weights", weights]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    ref = load_record("100").annotations
    ref_samples = ref.sample[is_beat(ref.symbol)]
    # every detection sits on a reference R peak (within 150 ms; most within a few samples) and few are missed
    nearest = np.abs(ref_samples[None, :] - table["sample"].to_numpy()[:, None]).min(axis=1)
    assert (nearest <= 54).all() and np.median(nearest) <= 3
    assert len(table) >= 0.99 * len(ref_samples) and (table["reference"] == "").all()
    assert "beats on lead MLII" in capsys.readouterr().out
