"""Uploads (name + bytes) become Records: WFDB records, CSV in the common layouts, EDF; hostile file
names and headers cannot read or write outside the upload's own temporary folder."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

from ecgapp.beats import extract_beats
from ecgapp.errors import InputError
from ecgapp.mitdb import load_record
from ecgapp.physionet import SHARED_DATA_DIR
from ecgapp.records import lead_caption, preferred_lead
from ecgapp.uploads import MAX_NAME_LENGTH, load_upload, sanitize_filename

MITDB = Path(os.environ.get("ECGAPP_DATA_DIR") or SHARED_DATA_DIR) / "mitdb"
N_CSV = 3600  # 10 s of record 100 for the CSV uploads


@pytest.fixture(scope="module")
def files100() -> dict[str, bytes]:
    return {ext: (MITDB / f"100.{ext}").read_bytes() for ext in ("hea", "dat", "atr")}


@pytest.fixture(scope="module")
def rec100():
    return load_record("100")


@pytest.fixture(scope="module")
def x10(rec100) -> np.ndarray:
    """The first 10 s of record 100 (MLII, V5) in mV, rounded as written to the CSVs (3 decimals)."""
    return np.round(rec100.signal[:N_CSV].astype(np.float64), 3)


# ------------------------------------------------------------------------------------------------ WFDB
def test_wfdb_record_with_reference_annotations(files100, rec100):
    rec = load_upload([("100.hea", files100["hea"]), ("100.dat", files100["dat"]), ("100.atr", files100["atr"])])
    assert rec.name == "100" and rec.leads == ("MLII", "V5") and rec.fs == 360
    assert rec.n_samples == 650_000 and len(rec.annotations) == 2274
    np.testing.assert_array_equal(rec.signal, rec100.signal)
    np.testing.assert_array_equal(rec.annotations.sample, rec100.annotations.sample)
    assert rec.comments == rec100.comments


def test_wfdb_record_without_annotations(files100):
    rec = load_upload([("100.hea", files100["hea"]), ("100.dat", files100["dat"])])
    assert rec.leads == ("MLII", "V5") and rec.n_samples == 650_000 and rec.annotations is None


@pytest.mark.parametrize("ann_name", ["ref.qrs", "100.ann", "beats", "100.ATR"])
def test_annotation_file_under_another_name(files100, rec100, ann_name):
    rec = load_upload([("100.hea", files100["hea"]), ("100.dat", files100["dat"]), (ann_name, files100["atr"])])
    assert len(rec.annotations) == 2274
    np.testing.assert_array_equal(rec.annotations.symbol, rec100.annotations.symbol)


def test_wfdb_upload_with_upper_case_extensions(files100):
    rec = load_upload([("100.HEA", files100["hea"]), ("100.DAT", files100["dat"]), ("100.ATR", files100["atr"])])
    assert rec.n_samples == 650_000 and len(rec.annotations) == 2274


# ------------------------------------------------------------------------------------- hostile names
@pytest.mark.parametrize("name, safe", [
    ("100.hea", "100.hea"),
    ("../../x.hea", "x.hea"),
    ("/etc/passwd", "passwd"),
    ("..\\..\\windows\\x.dat", "x.dat"),
    ("C:\\ecg\\a b.csv", "a_b.csv"),
    ("a\x00b.csv", "ab.csv"),
    ("x.csv\x00.hea", "x.csv.hea"),
    (".bashrc", "bashrc"),
    ("...hidden.csv", "hidden.csv"),
    ("sub/../../../.ssh/id.hea", "id.hea"),
    ("r\u00e9sum\u00e9 ecg.csv", "r_sum_ecg.csv"),
    ("rec;rm -rf $HOME.csv", "rec_rm_-rf_HOME.csv"),
])
def test_sanitize_filename(name, safe):
    assert sanitize_filename(name) == safe


@pytest.mark.parametrize("name", ["", ".", "..", "../..", "/", "\\", "\x00", "   ", "...", "__", "a/.."])
def test_sanitize_filename_rejects_names_with_nothing_left(name):
    with pytest.raises(InputError, match=r"^upload: file name .* has no usable characters"):
        sanitize_filename(name)


def test_sanitize_filename_shortens_very_long_names():
    long_csv = sanitize_filename("a" * 5000 + ".csv")
    assert len(long_csv) == MAX_NAME_LENGTH and long_csv.endswith(".csv")
    assert len(sanitize_filename("b" * 5000)) == MAX_NAME_LENGTH
    assert sanitize_filename("../" * 1000 + "x.hea") == "x.hea"


def _files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_hostile_names_load_and_write_nothing_outside_the_upload_folder(tmp_path, monkeypatch, files100):
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    monkeypatch.chdir(work)  # "../../100.hea" from here would land in tmp_path/a
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))  # the upload's folder goes under tmp_path
    parents = [tmp_path.parent, tmp_path.parent.parent]
    before = [set(os.listdir(p)) for p in parents]
    rec = load_upload([("../../100.hea", files100["hea"]), ("../../../100.dat", files100["dat"]),
                       ("..\\..\\100.atr", files100["atr"])])
    assert rec.name == "100" and rec.n_samples == 650_000 and len(rec.annotations) == 2274
    assert _files_under(tmp_path) == {"a", "a/b", "a/b/c", "uploads"}  # nothing written; temp folder gone
    assert [set(os.listdir(p)) for p in parents] == before
    with pytest.raises(InputError):  # on an error too, the temporary folder is removed
        load_upload([("../100.hea", files100["hea"])])
    assert _files_under(tmp_path) == {"a", "a/b", "a/b/c", "uploads"}


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "sub/x.dat", "..", ".100.dat",
                                    "~/100.dat", "C:\\100.dat"])
def test_header_pointing_outside_its_folder_is_rejected(files100, target):
    header = files100["hea"].replace(b"100.dat", target.encode())
    message = rf"^100\.hea: data file name {re.escape(repr(target))} is not allowed \(only a plain file " \
              rf"name in the same folder as the header\)"
    with pytest.raises(InputError, match=message):
        load_upload([("100.hea", header), ("100.dat", files100["dat"])])


@pytest.mark.parametrize("names", [("a/100.hea", "b/100.hea"), ("x.csv", "../x.csv"), ("r.dat", "r.dat")])
def test_two_files_with_the_same_safe_name(names):
    with pytest.raises(InputError, match=rf"^upload: two files are both called {re.escape(repr(names[1].split('/')[-1]))}"):
        load_upload([(names[0], b"1"), (names[1], b"2")])


def test_two_headers_at_once(files100):
    with pytest.raises(InputError, match=r"^upload: one WFDB record at a time, got headers 100\.hea, 101\.hea"):
        load_upload([("100.hea", files100["hea"]), ("101.hea", files100["hea"]), ("100.dat", files100["dat"])])


# ------------------------------------------------------------------------------------------------- CSV
def _clock(t: float) -> str:
    """PhysioNet's export time: m:ss.mmm, h:mm:ss.mmm from one hour on (rounded to ms)."""
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    return f"{h}:{m:02d}:{ms / 1000:06.3f}" if h else f"{m}:{ms / 1000:06.3f}"


def _rows(x: np.ndarray, time=None, sep: str = ",", decimal: str = ".") -> str:
    out = []
    for i, row in enumerate(x):
        cells = [f"{v:.3f}" for v in row]
        if time is not None:
            cells.insert(0, time(i))
        out.append(sep.join(cells).replace(".", decimal) if decimal != "." else sep.join(cells))
    return "\n".join(out) + "\n"


def _upload_csv(name: str, text: str, fs=None):
    return load_upload([(name, text.encode())], fs=fs)


CSV_LAYOUTS = {
    "seconds": ("time,MLII,V5\n", lambda i: f"{i / 360:.6f}", ","),
    "seconds-unit": ("t (s),MLII,V5\n", lambda i: f"{i / 360:.6f}", ","),
    "time_ms": ("time_ms,MLII,V5\n", lambda i: f"{i * 1000 / 360:.3f}", ","),
    "time (ms)": ("time (ms),MLII,V5\n", lambda i: f"{i * 1000 / 360:.3f}", ","),
    "integer ms": ("Time [ms],MLII,V5\n", lambda i: f"{round(i * 1000 / 360)}", ","),
    "physionet": ("'Elapsed time','MLII','V5'\n'hh:mm:ss.mmm','mV','mV'\n", lambda i: f"'{_clock(i / 360)}'", ","),
    "physionet-unquoted": ("Elapsed time,MLII,V5\nhh:mm:ss.mmm,mV,mV\n", lambda i: _clock(i / 360), ","),
    "semicolon": ("time;MLII;V5\n", lambda i: f"{i / 360:.6f}", ";"),
    "tab": ("time\tMLII\tV5\n", lambda i: f"{i / 360:.6f}", "\t"),
    "no header": ("", lambda i: f"{i / 360:.6f}", ","),
}


@pytest.mark.parametrize("layout", list(CSV_LAYOUTS))
def test_csv_with_time_column(x10, layout):
    head, time, sep = CSV_LAYOUTS[layout]
    rec = _upload_csv("ecg.csv", head + _rows(x10, time, sep))
    assert rec.name == "ecg" and rec.n_samples == N_CSV
    assert rec.leads == (("lead 1", "lead 2") if layout == "no header" else ("MLII", "V5"))
    assert abs(rec.fs - 360) < 0.001 * 360
    np.testing.assert_allclose(rec.signal, x10, atol=1e-6)
    assert any("taken from the time column" in n for n in rec.notes)


def test_physionet_export_steps_are_2_or_3_ms(x10):
    head, time, _ = CSV_LAYOUTS["physionet"]
    text = head + _rows(x10, time)
    times = [ln.split(",")[0].strip("'") for ln in text.splitlines()[2:]]
    assert times[:4] == ["0:00.000", "0:00.003", "0:00.006", "0:00.008"]
    steps = np.diff([float(t.split(":")[1]) for t in times])
    assert set(np.round(steps * 1000).astype(int)) == {2, 3}
    assert abs(_upload_csv("samples.csv", text).fs - 360) < 0.001 * 360


def test_physionet_export_past_one_hour(rec100):
    x = np.round(rec100.signal[: 360 * 4].astype(np.float64), 3)
    start = 3598.0  # 59:58.000 ... 1:00:01.997
    text = "'Elapsed time','MLII','V5'\n'hh:mm:ss.mmm','mV','mV'\n" + _rows(x, lambda i: f"'{_clock(start + i / 360)}'")
    assert "'1:00:00.000'" in text
    rec = _upload_csv("late.csv", text)
    assert rec.n_samples == 360 * 4 and abs(rec.fs - 360) < 0.001 * 360
    np.testing.assert_allclose(rec.signal, x, atol=1e-6)


def test_csv_single_column_with_fs(x10):
    rec = _upload_csv("lead.csv", "MLII\n" + _rows(x10[:, :1]), fs=360)
    assert rec.leads == ("MLII",) and rec.fs == 360 and rec.n_samples == N_CSV
    np.testing.assert_allclose(rec.signal[:, 0], x10[:, 0], atol=1e-6)
    bare = _upload_csv("bare.txt", _rows(x10[:, :1]), fs=360)
    assert bare.leads == ("lead 1",) and bare.fs == 360
    np.testing.assert_allclose(bare.signal[:, 0], x10[:, 0], atol=1e-6)


@pytest.mark.parametrize("header, lead, scale", [("MLII (mV)", "MLII", 1.0), ("Lead II", "Lead II", 1.0),
                                                 ("Lead II (uV)", "Lead II", 1000.0)])
def test_csv_single_column_whose_name_has_a_space(x10, header, lead, scale):
    """A one-column export headed "MLII (mV)" or "Lead II" is one lead, not two whitespace-separated columns."""
    rec = _upload_csv("one.csv", header + "\n" + "".join(f"{v * scale:.4f}\n" for v in x10[:, 0]), fs=360)
    assert rec.leads == (lead,) and rec.n_samples == N_CSV
    np.testing.assert_allclose(rec.signal[:, 0], x10[:, 0], atol=1e-3)


def test_csv_semicolon_with_decimal_commas(x10):
    text = "time;MLII;V5\n" + _rows(x10, lambda i: f"{i / 360:.6f}", ";", decimal=",")
    assert "0,000000;" in text
    rec = _upload_csv("eu.csv", text)
    assert rec.leads == ("MLII", "V5") and abs(rec.fs - 360) < 0.001 * 360
    np.testing.assert_allclose(rec.signal, x10, atol=1e-6)


def test_csv_units_in_column_names(x10):
    text = "time,V1 (uV),V5 [mV]\n" + "".join(
        f"{i / 360:.6f},{a * 1000:.0f},{b:.3f}\n" for i, (a, b) in enumerate(x10))
    rec = _upload_csv("units.csv", text)
    assert rec.leads == ("V1", "V5") and rec.units == ("mV", "mV")
    np.testing.assert_allclose(rec.signal, x10, atol=1e-6)
    assert "lead V1: converted from uV to mV" in rec.notes


@pytest.mark.parametrize("leads, expected", [
    (("I", "II", "III", "aVR", "V1"), "II"),  # a 12-lead record: lead II, not lead I, the first column
    (("ECG I", "ECG II"), "ECG II"), (("Lead I", "lead ii"), "lead ii"), (("V5", "MLII"), "MLII"),
    (("II", "MLII"), "MLII"), (("ECG1", "ECG2"), "ECG1"), (("V1", "V2"), "V1"), (("D1", "D2", "D3"), "D2"),
])
def test_default_lead_is_lead_ii_under_any_common_name(leads, expected):
    assert preferred_lead(leads) == expected


def test_twelve_lead_csv_reads_lead_ii_by_default(x10):
    """Column II holds 100's MLII, column I its V5: the default lead, and so the beats, are lead II's."""
    text = "time,I,II,V1\n" + "".join(f"{i / 360:.6f},{b:.3f},{a:.3f},{b:.3f}\n" for i, (a, b) in enumerate(x10))
    rec = _upload_csv("twelve.csv", text)
    assert rec.default_lead == "II"
    np.testing.assert_allclose(rec.lead_signal(), x10[:, 0], atol=1e-6)
    beats = extract_beats(rec, r_peaks=np.array([370, 662, 946]))
    assert beats.lead == "II"
    assert lead_caption("II").startswith("This is lead II: ") and "less reliable" in lead_caption("V1")
    assert lead_caption("ECG II").startswith("This is lead II (ECG II): ")


def test_csv_sample_number_column_is_not_a_lead(x10):
    text = "sample #,MLII,V5\n" + "".join(f"{i},{a:.3f},{b:.3f}\n" for i, (a, b) in enumerate(x10))
    rec = _upload_csv("numbered.csv", text, fs=360)
    assert rec.leads == ("MLII", "V5")
    np.testing.assert_allclose(rec.signal, x10, atol=1e-6)
    assert "column 'sample #' (sample numbers) left out" in rec.notes


def test_csv_time_column_agreeing_with_fs(x10):
    rec = _upload_csv("ok.csv", "time,MLII,V5\n" + _rows(x10, lambda i: f"{i / 360:.6f}"), fs=360)
    assert abs(rec.fs - 360) < 0.001 * 360


def test_csv_time_column_disagreeing_with_fs(x10):
    text = "time,MLII,V5\n" + _rows(x10, lambda i: f"{i / 360:.6f}")
    with pytest.raises(InputError, match=r"^ecg\.csv: the time column implies 360 Hz but the sampling rate "
                                         r"given is 250 Hz"):
        _upload_csv("ecg.csv", text, fs=250)


def test_csv_irregular_time_column(x10):
    t = np.arange(N_CSV) / 360
    t[1800:] += 0.5  # half a second missing in the middle
    with pytest.raises(InputError, match=r"^ecg\.csv: time column 'time' is not evenly sampled \(off by up to "
                                         r"[\d.]+ samples\); resample to a fixed rate first"):
        _upload_csv("ecg.csv", "time,MLII,V5\n" + _rows(x10, lambda i: f"{t[i]:.6f}"))


def test_csv_time_going_backwards(x10):
    t = np.arange(N_CSV) / 360
    t[[100, 101]] = t[[101, 100]]  # two rows swapped: file lines 102 and 103
    with pytest.raises(InputError, match=r"^ecg\.csv: time column 'time' goes backwards at line 103 "
                                         r"\(0\.280556 s, then 0\.277778 s\)"):
        _upload_csv("ecg.csv", "time,MLII,V5\n" + _rows(x10, lambda i: f"{t[i]:.6f}"))


def test_csv_unreadable_clock_time(x10):
    head, time, _ = CSV_LAYOUTS["physionet"]
    lines = (head + _rows(x10, time)).splitlines()
    lines[12] = "'0:0x.033'," + lines[12].split(",", 1)[1]
    with pytest.raises(InputError, match=r"^ecg\.csv: line 13, time column 'Elapsed time': \"'0:0x\.033'\" is "
                                         r"not a time"):
        _upload_csv("ecg.csv", "\n".join(lines))


# ------------------------------------------------------------------------------------------------- EDF
def test_edf_upload_matches_the_wfdb_record(tmp_path, mitdb_copy, rec100):
    from wfdb.io.convert.edf import wfdb_to_edf

    out = tmp_path / "100.edf"
    wfdb_to_edf(str(mitdb_copy("100", ("hea", "dat"))), sampto=3600 * 4, output_filename=str(out))
    rec = load_upload([("100.edf", out.read_bytes())])
    assert rec.name == "100" and rec.leads == ("MLII", "V5") and rec.fs == 360
    assert rec.n_samples >= 3600 * 4
    np.testing.assert_allclose(rec.signal[: 3600 * 4], rec100.signal[: 3600 * 4], atol=0.01)


def test_second_annotation_file_is_named_in_the_notes(files100):
    rec = load_upload([("100.hea", files100["hea"]), ("100.dat", files100["dat"]), ("100.atr", files100["atr"]),
                       ("100.qrs", files100["atr"])])
    assert len(rec.annotations) == 2274
    assert "annotation file(s) not used: 100.qrs (reference beats taken from 100.atr)" in rec.notes


def test_header_without_checksums_loads_and_classifies(tmp_path):
    """A valid WFDB header may omit the optional checksum (and block size) fields, as many tools write it."""
    from ecgapp.wfdbfile import read_wfdb

    x = (np.sin(np.arange(7200) / 360 * 2 * np.pi * 1.2) * 200).astype("<i2")
    (tmp_path / "t.dat").write_bytes(x.tobytes())
    (tmp_path / "t.hea").write_text("t 1 360 7200\nt.dat 16 200/mV\n")
    rec = read_wfdb(str(tmp_path / "t"))
    assert rec.fs == 360 and rec.n_samples == 7200
    np.testing.assert_allclose(rec.signal[:, 0], x / 200.0, atol=1e-6)


def test_stale_upload_folders_are_removed_and_nothing_else(tmp_path):
    """A process killed while reading an upload leaves its folder behind; start-up removes such folders once
    they are old, and leaves fresh ones (another server may be reading them), other folders and files alone."""
    import os
    import time

    from ecgapp.uploads import remove_stale_uploads

    old = time.time() - 3600
    stale = tmp_path / "ecgapp-upload-abc123"
    stale.mkdir()
    (stale / "100.dat").write_bytes(b"\0" * 100)
    ann = tmp_path / "ecgapp-ann-x"
    ann.mkdir()
    fresh = tmp_path / "ecgapp-upload-fresh"
    fresh.mkdir()
    other = tmp_path / "someone-else"
    other.mkdir()
    lookalike = tmp_path / "ecgapp-upload-file"
    lookalike.write_text("a file, not our folder")
    for p in (stale, ann, other, lookalike):
        os.utime(p, (old, old))
    assert sorted(remove_stale_uploads(folder=tmp_path)) == ["ecgapp-ann-x", "ecgapp-upload-abc123"]
    assert not stale.exists() and not ann.exists()
    assert fresh.is_dir() and other.is_dir() and lookalike.is_file()
    assert remove_stale_uploads(folder=tmp_path / "missing") == []


@pytest.mark.parametrize("record", ["100", "208"])
def test_wfdb_read_in_blocks_equals_wfdb_read_whole(monkeypatch, record):
    """Long records are read block by block (bounded memory): same samples, same NaN, checksums still checked."""
    import wfdb

    from ecgapp import wfdbfile

    path = SHARED_DATA_DIR / "mitdb" / record
    whole = wfdb.rdrecord(str(path)).p_signal.astype(np.float32)
    monkeypatch.setattr(wfdbfile, "READ_BLOCK", 100_001)  # odd: format 212 blocks start mid-byte-pair
    rec = wfdbfile.read_wfdb(path)
    assert rec.signal.dtype == np.float32 and rec.signal.shape == whole.shape
    np.testing.assert_array_equal(rec.signal, whole)


def test_wfdb_checksum_mismatch_is_found_when_read_in_blocks(tmp_path, monkeypatch):
    from ecgapp import wfdbfile

    for ext in ("hea", "dat"):
        (tmp_path / f"100.{ext}").write_bytes((SHARED_DATA_DIR / "mitdb" / f"100.{ext}").read_bytes())
    data = bytearray((tmp_path / "100.dat").read_bytes())
    data[500_000] ^= 0x11  # one corrupt byte in the middle of the 7th block
    (tmp_path / "100.dat").write_bytes(bytes(data))
    monkeypatch.setattr(wfdbfile, "READ_BLOCK", 100_001)
    with pytest.raises(InputError, match="checksum"):
        wfdbfile.read_wfdb(tmp_path / "100")


def test_annotations_of_a_record_read_in_blocks_are_checked_against_its_whole_length(tmp_path, monkeypatch):
    """Read in blocks, the record's annotations must fit its full length, not the last block's."""
    from ecgapp import wfdbfile

    for ext in ("hea", "dat", "atr"):
        (tmp_path / f"100.{ext}").write_bytes((SHARED_DATA_DIR / "mitdb" / f"100.{ext}").read_bytes())
    monkeypatch.setattr(wfdbfile, "READ_BLOCK", 100_001)  # 7 blocks, the last one 49,994 samples
    rec = wfdbfile.read_wfdb(tmp_path / "100", ann_ext="atr")
    assert len(rec.annotations.sample) == len(load_record("100").annotations.sample)


def test_the_newest_upload_replaces_the_earlier_ones():
    """The uploader keeps every file; the app uses the record of the last one added."""
    from ecgapp.uploads import newest_upload

    csv1, csv2 = ("a.csv", b"1\n"), ("b.csv", b"2\n")
    hea, dat, atr = ("100.hea", b"h"), ("100.dat", b"d"), ("100.atr", b"a")
    assert newest_upload([csv1, csv2]) == ([csv2], ["a.csv"])
    assert newest_upload([csv1, hea, dat, atr]) == ([hea, dat, atr], ["a.csv"])  # WFDB files by stem
    assert newest_upload([hea, dat, csv1]) == ([csv1], ["100.hea", "100.dat"])
    assert newest_upload([("x.edf", b"e"), ("101.hea", b"h"), ("101.dat", b"d")])[1] == ["x.edf"]
    assert newest_upload([csv1, ("100.dat", b"d")]) == ([csv1, ("100.dat", b"d")], [])  # no header: say what is missing
    assert newest_upload([csv1]) == ([csv1], [])
