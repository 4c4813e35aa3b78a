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
                                   "reference", "af", "template_r", "on_time_v", "by_template", "sv_run", "far_shape",
                                   "on_time_s", "network_label", "unreadable"]
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
    assert main(["classify", str(record), "--out", str(tmp_path / "x.csv"), "--beats", "reference",
                 "--weights", weights]) == 2
    assert "no annotation file '.atr'" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()
    assert main(["classify", str(record), "--out", str(tmp_path / "x.csv"), "--weights", weights]) == 0
    assert "(detected)" in capsys.readouterr().out  # the default, auto: no annotations, so beats are detected
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


def one_error_line(capsys) -> str:
    """The run's stderr: exactly one line, starting with "error:", no traceback."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def test_output_failures_are_one_line_and_nothing_is_half_written(tmp_path, mitdb_copy, weights, capsys):
    record = str(mitdb_copy("100"))
    run = lambda *extra: main(["classify", record, "--weights", weights, *extra])
    assert run("--out", str(tmp_path / "missing" / "b.csv")) == 2
    assert "does not exist" in one_error_line(capsys)
    assert run("--out", str(tmp_path)) == 2
    assert "is a folder" in one_error_line(capsys)
    assert run("--out", "/proc/ecgapp-beats.csv") == 2  # a folder nobody may write into, even root
    assert "/proc/ecgapp-beats.csv" in one_error_line(capsys)
    assert not list(tmp_path.glob("*.tmp"))
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    assert run("--out", str(tmp_path / "b.csv"), "--wfdb-out", str(taken)) == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert taken.read_text() == "keep me" and not (tmp_path / "b.csv").exists()


def test_corrupt_weights_are_one_line(tmp_path, mitdb_copy, weights, capsys):
    import shutil

    record = str(mitdb_copy("100"))
    for broken_ext, content in (("pt", b"\x80\x02not a checkpoint"), ("json", b"{\"config\": ")):
        bad = tmp_path / f"bad_{broken_ext}"
        for ext in ("pt", "json"):
            shutil.copyfile(f"{weights}.{ext}", f"{bad}.{ext}")
        (tmp_path / f"bad_{broken_ext}.{broken_ext}").write_bytes(content)
        assert main(["classify", record, "--out", str(tmp_path / "b.csv"), "--weights", str(bad)]) == 2
        assert "cannot be read" in one_error_line(capsys)


def test_record_name_with_a_space_gets_a_clean_annotation_name(tmp_path, weights):
    import shutil

    from conftest import MITDB_DIR

    for ext in ("hea", "atr"):
        shutil.copyfile(MITDB_DIR / f"100.{ext}", tmp_path / f"my rec.{ext}")
    shutil.copyfile(MITDB_DIR / "100.dat", tmp_path / "100.dat")  # the data file the header names
    out = tmp_path / "b.csv"
    assert main(["classify", str(tmp_path / "my rec"), "--out", str(out), "--wfdb-out", str(tmp_path / "ann dir"),
                 "--weights", weights]) == 0
    back = wfdb.rdann(str(tmp_path / "ann dir" / "my_rec"), "pred")
    assert len(back.sample) == len(pd.read_csv(out)) == 2273


@pytest.mark.parametrize("content", ["empty", "rhythm only"])
def test_annotation_file_without_beats_is_an_error_not_an_empty_table(tmp_path, mitdb_copy, weights, capsys, content):
    record = mitdb_copy("100", ("hea", "dat"))
    if content == "empty":
        (tmp_path / "100.atr").write_bytes(b"")
    else:
        wfdb.wrann("100", "atr", np.array([0]), symbol=["+"], aux_note=["(N"], write_dir=str(tmp_path))
    out = tmp_path / "b.csv"
    assert main(["classify", str(record), "--out", str(out), "--beats", "reference", "--weights", weights]) == 2
    assert "no beats" in one_error_line(capsys) and not out.exists()
