"""Downloads: the beats CSV and the WFDB annotation file, including for hostile record names."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import wfdb

from ecgapp import extract_beats, load_record
from ecgapp.exports import beats_csv_bytes, safe_record_name, wfdb_annotation_bytes
from ecgapp.inference import beats_table


def table119() -> pd.DataFrame:
    beats = extract_beats(load_record("119"))
    return beats_table(beats, np.eye(5, dtype=np.float32)[beats.label] * 0.9 + 0.02)


def test_hostile_record_names_become_plain_file_names():
    assert safe_record_name("../../etc/passwd") == "etc_passwd"
    assert safe_record_name("patient 1 (ä).csv") == "patient_1_csv"
    assert safe_record_name("...") == "record" and len(safe_record_name("x" * 500)) == 60


def test_annotation_file_reads_back_with_wfdb(tmp_path):
    table = table119()
    name, data = wfdb_annotation_bytes(table, "../../119 upload", 360.0)
    assert name == "119_upload.pred" and "/" not in name
    (tmp_path / name).write_bytes(data)
    back = wfdb.rdann(str(tmp_path / "119_upload"), "pred")
    np.testing.assert_array_equal(back.sample, table["sample"])
    assert back.symbol == table["label"].tolist() and back.fs == 360.0


def test_beats_csv_round_trips():
    table = table119()
    back = pd.read_csv(io.BytesIO(beats_csv_bytes(table)), keep_default_na=False)
    assert list(back.columns) == list(table.columns) and len(back) == 1987
    np.testing.assert_array_equal(back["sample"], table["sample"])
    assert (back["label"] == table["label"]).all()
