"""EDF reading: real MIT-BIH data round trip, multi-rate files, annotation channels, damaged files."""

from __future__ import annotations

import numpy as np
import pytest

from ecgapp.edffile import read_edf
from ecgapp.errors import InputError, UnsupportedFormatError
from ecgapp.mitdb import load_record
from tests.edf_writer import write_edf


@pytest.fixture(scope="module")
def rec100():
    return load_record("100")


def test_wfdb_written_edf_matches_the_record(tmp_path, mitdb_copy, rec100):
    from wfdb.io.convert.edf import wfdb_to_edf

    wfdb_to_edf(str(mitdb_copy("100", ("hea", "dat"))), sampto=3600 * 4, output_filename=str(tmp_path / "p.edf"))
    rec = read_edf(tmp_path / "p.edf")
    assert rec.fs == 360 and rec.leads == ("MLII", "V5") and rec.n_samples >= 3600 * 4
    np.testing.assert_allclose(rec.signal[: 3600 * 4], rec100.signal[: 3600 * 4], atol=0.01)


def test_multi_rate_file_keeps_each_channel_at_its_rate(tmp_path, rec100):
    ecg = rec100.signal[: 360 * 20, 0].astype(float) * 1000  # uV
    slow = np.linspace(36.0, 37.0, 20)  # 1 Hz temperature channel
    path = write_edf(tmp_path / "multi.edf", [
        ("ECG MLII", "uV", 360, ecg, (-5000, 5000)),
        ("Temp", "degC", 1, slow, (30, 45)),
        ("EDF Annotations", "", 60, np.zeros(1200), (-1, 1)),
        ("Resp", "mV", 36, np.zeros(720), (-1, 1)),
    ], reserved="EDF+C")
    rec = read_edf(path)
    assert rec.fs == 360 and rec.leads == ("ECG MLII",) and rec.units == ("mV",)
    np.testing.assert_allclose(rec.signal[:, 0], ecg / 1000, atol=5000 * 2 / 65535 / 1000 + 1e-6)
    note = " ".join(rec.notes)
    assert "Temp (1 Hz, degC)" in note and "EDF Annotations (annotations)" in note and "Resp (36 Hz, mV)" in note


def test_record_duration_other_than_one_second(tmp_path, rec100):
    ecg = rec100.signal[: 250 * 12, 0].astype(float)
    rec = read_edf(write_edf(tmp_path / "half.edf", [("I", "mV", 250, ecg, (-10, 10))], record_s=0.5))
    assert rec.fs == 250 and rec.n_samples == 250 * 12


def test_unknown_record_count_is_taken_from_the_file_size(tmp_path, rec100):
    ecg = rec100.signal[: 360 * 5, 0].astype(float)
    rec = read_edf(write_edf(tmp_path / "u.edf", [("II", "mV", 360, ecg, (-10, 10))], n_records=-1))
    assert rec.n_samples == 360 * 5


def test_damaged_and_unsupported_edf(tmp_path, rec100):
    ecg = rec100.signal[: 360 * 5, 0].astype(float)
    good = write_edf(tmp_path / "g.edf", [("II", "mV", 360, ecg, (-10, 10))])
    cut = tmp_path / "cut.edf"
    cut.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"cut.edf is truncated: its header declares 5 data records"):
        read_edf(cut)
    (tmp_path / "empty.edf").write_bytes(b"")
    with pytest.raises(InputError, match="empty.edf is empty"):
        read_edf(tmp_path / "empty.edf")
    (tmp_path / "text.edf").write_bytes(b"time,MLII\n0,1\n" * 40)
    with pytest.raises(InputError, match="text.edf: not an EDF file"):
        read_edf(tmp_path / "text.edf")
    (tmp_path / "b.edf").write_bytes(b"\xffBIOSEMI" + bytes(600))
    with pytest.raises(UnsupportedFormatError, match="BDF"):
        read_edf(tmp_path / "b.edf")
    d = write_edf(tmp_path / "d.edf", [("II", "mV", 360, ecg, (-10, 10))], reserved="EDF+D")
    with pytest.raises(UnsupportedFormatError, match=r"discontinuous EDF\+"):
        read_edf(d)
    t = write_edf(tmp_path / "t.edf", [("Temp", "degC", 10, np.full(50, 36.6), (30, 45))])
    with pytest.raises(InputError, match=r"no ECG channel in volts \(channels: Temp; units: degC\)"):
        read_edf(t)
    flat = write_edf(tmp_path / "f.edf", [("II", "mV", 360, ecg, (-10, 10))], digital=(0, 0))
    with pytest.raises(InputError, match="channel II has an empty digital or physical range"):
        read_edf(flat)


def test_edf_cut_inside_its_header(tmp_path, rec100):
    good = write_edf(tmp_path / "g.edf", [("II", "mV", 360, rec100.signal[:3600, 0], (-10, 10)),
                                          ("V5", "mV", 360, rec100.signal[:3600, 1], (-10, 10))])
    cut = tmp_path / "cut.edf"
    cut.write_bytes(good.read_bytes()[:600])
    with pytest.raises(InputError, match=r"cut.edf is truncated inside its header: .* 768 bytes for 2 signals"):
        read_edf(cut)
