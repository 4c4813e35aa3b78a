"""python -m ecgapp classify on what the app takes (WFDB, CSV, EDF) and on many records at once: a folder or a
list, classified in worker processes, one CSV per record and summary.csv; a broken file is reported and the
others still finish."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import MITDB_DIR
from edf_writer import write_edf
from ecgapp.__main__ import main
from ecgapp.aami import is_beat
from ecgapp.batch import expand_inputs, output_names
from ecgapp.mitdb import load_record

WEIGHTS = str(Path(__file__).resolve().parent.parent / "weights" / "hybrid")
SECONDS = 120


def reference_beats(name: str, seconds: float = SECONDS) -> int:
    ann = load_record(name).annotations
    return int((is_beat(ann.symbol) & (ann.sample < seconds * 360)).sum())


def write_csv(path: Path, name: str, seconds: float = SECONDS, time_column: bool = False) -> Path:
    x = load_record(name).lead_signal("MLII")[: int(seconds * 360)]
    if time_column:
        lines = ["time (s),MLII (mV)"] + [f"{i / 360:.5f},{v:.3f}" for i, v in enumerate(x)]
    else:
        lines = ["MLII (mV)"] + [f"{v:.3f}" for v in x]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_edf_of(path: Path, name: str, seconds: float = SECONDS) -> Path:
    x = load_record(name).lead_signal("MLII")[: int(seconds * 360)]
    return write_edf(path, [("ECG MLII", "mV", 360.0, x, (-5.0, 5.0))])


@pytest.fixture
def folder(tmp_path):
    """A WFDB record with its reference annotations, a CSV without a time column, an EDF file, a broken file."""
    d = tmp_path / "ecgs"
    d.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copyfile(MITDB_DIR / f"100.{ext}", d / f"100.{ext}")
    write_csv(d / "patient_a.csv", "119")
    write_edf_of(d / "patient_b.edf", "208")
    (d / "broken.csv").write_text("time,ECG\n0,abc\n1,def\n")
    (d / "README.txt").write_text("not an ECG: a folder's .txt files are not taken")
    return d


def test_a_folder_is_classified_in_parallel_and_a_broken_file_does_not_stop_the_others(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["classify", str(folder), "--out", str(out), "--fs", "360", "--workers", "2",
                 "--weights", WEIGHTS]) == 1  # 1: some inputs failed
    summary = pd.read_csv(out / "summary.csv").fillna({"error": ""}).set_index("input")
    assert sorted(Path(i).name for i in summary.index) == ["100", "broken.csv", "patient_a.csv", "patient_b.edf"]
    by_name = {Path(i).name: row for i, row in summary.iterrows()}
    assert by_name["broken.csv"]["status"] == "failed" and "broken.csv" in by_name["broken.csv"]["error"]
    assert "broken.csv" in capsys.readouterr().err
    ok = {k: v for k, v in by_name.items() if k != "broken.csv"}
    assert all(v["status"] == "ok" for v in ok.values())
    assert ok["100"]["beat_source"] == "reference" and ok["100"]["beats"] == 2273  # auto: its annotations
    assert ok["patient_a.csv"]["beat_source"] == "detected"
    assert abs(ok["patient_a.csv"]["beats"] - reference_beats("119")) <= 2
    assert ok["patient_a.csv"]["V"] > 0.8 * (load_record("119").annotations.symbol[:reference_beats("119")] == "V").sum()
    assert abs(ok["patient_b.edf"]["beats"] - reference_beats("208")) <= 4
    for name, row in ok.items():
        table = pd.read_csv(row["beats_csv"], keep_default_na=False)
        assert len(table) == row["beats"] and set(table["label"]) <= set("NSVFQ")
    assert sorted(p.name for p in out.iterdir()) == ["100_beats.csv", "patient_a_beats.csv", "patient_b_beats.csv",
                                                     "summary.csv"]


def test_one_worker_and_two_give_the_same_labels(folder, tmp_path):
    (folder / "broken.csv").unlink()
    for workers in ("1", "2"):
        assert main(["classify", str(folder / "patient_a.csv"), str(folder / "100"), "--out",
                     str(tmp_path / workers), "--fs", "360", "--workers", workers, "--weights", WEIGHTS]) == 0
    for name in ("patient_a_beats.csv", "100_beats.csv"):
        a, b = (pd.read_csv(tmp_path / w / name) for w in ("1", "2"))
        assert a["label"].tolist() == b["label"].tolist()
        np.testing.assert_allclose(a["p_V"], b["p_V"], atol=1e-3)


def test_one_csv_or_edf_file_is_classified_like_a_wfdb_record(tmp_path, capsys):
    csv = write_csv(tmp_path / "strip.csv", "119", time_column=True)  # the time column gives the rate
    assert main(["classify", str(csv), "--out", str(tmp_path / "a.csv"), "--weights", WEIGHTS]) == 0
    assert "(detected)" in capsys.readouterr().out
    a = pd.read_csv(tmp_path / "a.csv")
    edf = write_edf_of(tmp_path / "strip.edf", "119")
    assert main(["classify", str(edf), "--out", str(tmp_path / "b.csv"), "--wfdb-out", str(tmp_path / "ann"),
                 "--weights", WEIGHTS]) == 0
    b = pd.read_csv(tmp_path / "b.csv")
    assert abs(len(a) - reference_beats("119")) <= 2 and abs(len(b) - len(a)) <= 1
    assert (tmp_path / "ann" / "strip.pred").is_file()
    nofs = write_csv(tmp_path / "nofs.csv", "119")
    assert main(["classify", str(nofs), "--out", str(tmp_path / "c.csv"), "--weights", WEIGHTS]) == 2
    assert "nofs.csv: no time column, so the sampling rate (Hz) must be given" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()


def test_inputs_and_output_names():
    assert output_names(["x/a.csv", "y/a.edf", "z/b", "w/b"]) == ["a_csv", "a_edf", "b", "b_"]
    assert output_names(["../../etc/passwd"]) == ["passwd"]


def test_bad_batch_arguments_are_one_line_errors(tmp_path, folder, capsys):
    assert main(["classify", str(folder), "--out", str(tmp_path / "s.csv"), "--weights", WEIGHTS]) == 2
    assert "names a folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["classify", str(empty), "--weights", WEIGHTS]) == 2
    assert "no WFDB record (.hea), CSV or EDF file" in capsys.readouterr().err
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    assert main(["classify", str(tmp_path / "notes.docx"), "--out", str(tmp_path / "d.csv"),
                 "--weights", WEIGHTS]) == 2
    assert "not a WFDB record" in capsys.readouterr().err
    assert expand_inputs([str(folder), str(folder / "100")]).count(str(folder / "100")) == 1
