"""Every kind of bad input gets a specific error (InputError / UnsupportedFormatError) naming the file and
the problem; damaged data is reported, never read as ECG. Real MIT-BIH 100 is copied into tmp_path and
damaged there (the shared data is never written)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from ecgapp.errors import InputError, UnsupportedFormatError
from ecgapp.physionet import SHARED_DATA_DIR
from ecgapp.csvfile import read_csv
from ecgapp.edffile import read_edf
from ecgapp.wfdbfile import read_wfdb
from ecgapp.records import make_record
from ecgapp.uploads import load_upload

MITDB = Path(os.environ.get("ECGAPP_DATA_DIR") or SHARED_DATA_DIR) / "mitdb"
HEADER_100 = (MITDB / "100.hea").read_text()



def _reader_and_upload_reject(read, path, content: bytes, message: str, **kwargs) -> None:
    """The file reader and load_upload both refuse ``content`` (saved as ``path``) with ``message``."""
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read(path, **kwargs)
    with pytest.raises(InputError, match=message):
        load_upload([(path.name, content)], **kwargs)

def _wave(n: int = 3600) -> np.ndarray:
    return np.sin(np.arange(n) / 10.0)


def _csv_lines(n: int = 3600, fs: float = 360.0) -> list[str]:
    return [f"{i / fs:.6f},{v:.3f}" for i, v in enumerate(_wave(n))]


# ----------------------------------------------------------------------------------------- WFDB files
def _truncate(rec: Path):
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:100_000])


def _empty(rec: Path):
    rec.with_suffix(".dat").write_bytes(b"")


def _too_long(rec: Path):
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes() + bytes(3000))


def _flip_bytes(rec: Path):
    dat = rec.with_suffix(".dat")
    data = bytearray(dat.read_bytes())
    data[30_000:30_010] = bytes(b ^ 0xFF for b in data[30_000:30_010])  # same size, different samples
    dat.write_bytes(bytes(data))


def _remove_dat(rec: Path):
    rec.with_suffix(".dat").unlink()


def _refer_to_other_file(rec: Path):
    rec.with_suffix(".hea").write_text(HEADER_100.replace("100.dat", "other.dat"))


def _multi_segment(rec: Path):
    rec.with_suffix(".hea").write_text(HEADER_100.replace("100 2 360 650000", "multi/2 2 360 650000"))


@pytest.mark.parametrize("damage, error, message", [
    (_truncate, InputError,
     r"^100\.dat is truncated: 100\.hea declares 650000 samples per lead \(format 212, 1950000 bytes\) "
     r"but the file holds 100000 bytes, about 33333 samples"),
    (_empty, InputError, r"^100\.dat is empty \(0 bytes\); 100\.hea expects signal data in it"),
    (_too_long, InputError,
     r"^header and data disagree: 100\.dat holds 1953000 bytes \(about 651000 samples per lead\) but "
     r"100\.hea declares 650000 samples"),
    (_flip_bytes, InputError,
     r"^header and data disagree: the checksum of lead MLII in 100\.dat is \d+, 100\.hea says 43405; "
     r"the data file is corrupt"),
    (_remove_dat, InputError, r"^100\.hea refers to data file '100\.dat', which is missing"),
    (_refer_to_other_file, InputError, r"^100\.hea refers to data file 'other\.dat', which is missing"),
    (_multi_segment, UnsupportedFormatError, r"^100\.hea: multi-segment WFDB records are not supported"),
], ids=["truncated", "empty", "longer-than-header", "checksum", "missing-dat", "other-data-file",
        "multi-segment"])
def test_damaged_wfdb_record(mitdb_copy, damage, error, message):
    rec = mitdb_copy("100", ("hea", "dat"))
    damage(rec)
    with pytest.raises(error, match=message):
        read_wfdb(rec)


def _gain(value: str):
    def damage(rec: Path):
        lines = HEADER_100.splitlines()
        lines[1] = lines[1].replace(" 200 ", f" {value} ", 1)
        rec.with_suffix(".hea").write_text("\n".join(lines) + "\n")
    return damage


def _many_signals(rec: Path):
    rec.with_suffix(".hea").write_text("100 5000 360 650000\n" + "100.dat 212 200 11 1024 995 -22131 0 MLII\n" * 5000)


@pytest.mark.parametrize("damage, message", [
    (_gain("nan"), r"^100\.hea: signal line 2: gain field 'nan' is not valid"),
    (_gain("abc"), r"^100\.hea: signal line 2: gain field 'abc' is not valid"),
    (_gain("200(x)/mV"), r"^100\.hea: signal line 2: gain field '200\(x\)/mV' is not valid"),
    (_many_signals, r"^100\.hea: the header declares 5,000 signals; an ECG record has at most 64"),
], ids=["gain-nan", "gain-text", "baseline-text", "5000-signals"])
def test_bad_header_fields(mitdb_copy, damage, message):
    """Fields wfdb would misread (``nan`` as units, text as 0) or that would expand absurdly: refused."""
    rec = mitdb_copy("100", ("hea", "dat"))
    damage(rec)
    with pytest.raises(InputError, match=message):
        read_wfdb(rec)


def test_header_without_sample_count_reads_the_length_from_the_data(mitdb_copy):
    rec = mitdb_copy("100", ("hea", "dat"))
    rec.with_suffix(".hea").write_text(HEADER_100.replace("100 2 360 650000", "100 2 360"))
    assert read_wfdb(rec).n_samples == 650000


@pytest.mark.parametrize("damage, message", [
    (_truncate, r"^100\.dat is truncated: 100\.hea declares 650000 samples"),
    (_flip_bytes, r"^header and data disagree: the checksum of lead MLII in 100\.dat"),
    (_multi_segment, r"^100\.hea: multi-segment WFDB records are not supported"),
], ids=["truncated", "checksum", "multi-segment"])
def test_damaged_wfdb_upload(mitdb_copy, damage, message):
    rec = mitdb_copy("100", ("hea", "dat"))
    damage(rec)
    files = [(p.name, p.read_bytes()) for p in (rec.with_suffix(".hea"), rec.with_suffix(".dat"))]
    with pytest.raises(InputError, match=message):
        load_upload(files)


def test_uploaded_header_without_its_data_file():
    with pytest.raises(InputError, match=r"^100\.hea refers to data file '100\.dat', which was not uploaded "
                                         r"\(uploaded: none\)"):
        load_upload([("100.hea", HEADER_100.encode())])


# -------------------------------------------------------------------------------------- unsupported
@pytest.mark.parametrize("files, error, message", [
    ([("ecg.xlsx", b"PK\x03\x04" + bytes(100))], UnsupportedFormatError,
     r"^upload: unsupported file type \(ecg\.xlsx\); upload a WFDB record \(\.hea \+ \.dat"),
    ([("ecg.mat", b"MATLAB 5.0 MAT-file" + bytes(100))], UnsupportedFormatError,
     r"^upload: unsupported file type \(ecg\.mat\)"),
    ([("100.dat", bytes(3000))], InputError, r"^upload: 100\.dat needs its WFDB header \(\.hea\) uploaded with it"),
    ([("a.csv", b"1\n2\n"), ("b.csv", b"1\n2\n")], InputError, r"^upload: one CSV or EDF file at a time, got a\.csv, b\.csv"),
    ([], InputError, r"^upload: no files were given"),
], ids=["xlsx", "mat", "lone-dat", "two-csv", "nothing"])
def test_unsupported_uploads(files, error, message):
    with pytest.raises(error, match=message):
        load_upload(files)


# ---------------------------------------------------------------------------------------- sampling rate
_BAD_FS = [
    (0, r"sampling rate must be a positive number of Hz, got 0"),
    (-360, r"sampling rate must be a positive number of Hz, got -360"),
    (float("nan"), r"sampling rate must be a positive number of Hz, got nan"),
    (float("inf"), r"sampling rate must be a positive number of Hz, got inf"),
    (10, r"sampling rate 10 Hz is outside the supported range 50-10000 Hz"),
    (49.9, r"sampling rate 49\.9 Hz is outside the supported range 50-10000 Hz"),
    (20_000, r"sampling rate 20000 Hz is outside the supported range 50-10000 Hz"),
]
_FS_IDS = ["zero", "negative", "nan", "inf", "10Hz", "49.9Hz", "20kHz"]


@pytest.mark.parametrize("fs, message", _BAD_FS + [
    ("fast", r"sampling rate 'fast' is not a number"), (None, r"sampling rate None is not a number"),
], ids=_FS_IDS + ["text", "none"])
def test_bad_sampling_rate_in_make_record(fs, message):
    with pytest.raises(InputError, match=r"^my array: " + message):
        make_record(_wave(), fs, name="my array")


@pytest.mark.parametrize("fs_field, message", [
    ("0", r"sampling rate must be a positive number of Hz, got 0"),
    ("-360", r"sampling rate must be a positive number of Hz, got -360"),  # wfdb alone reads 250 Hz
    ("nan", r"sampling rate must be a positive number of Hz, got nan"),  # wfdb alone reads 250 Hz
    ("10", r"sampling rate 10 Hz is outside the supported range 50-10000 Hz"),
    ("20000", r"sampling rate 20000 Hz is outside the supported range 50-10000 Hz"),
    ("fast", r"sampling rate 'fast' is not a number"),
], ids=["zero", "negative", "nan", "10Hz", "20kHz", "text"])
def test_bad_sampling_rate_in_wfdb_header(mitdb_copy, fs_field, message):
    rec = mitdb_copy("100", ("hea", "dat"))
    rec.with_suffix(".hea").write_text(HEADER_100.replace("100 2 360 650000", f"100 2 {fs_field} 650000"))
    with pytest.raises(InputError, match=r"^100\.hea: " + message):
        read_wfdb(rec)


@pytest.mark.parametrize("fs, message", _BAD_FS, ids=_FS_IDS)
def test_bad_sampling_rate_given_for_csv(tmp_path, fs, message):
    path = tmp_path / "lead.csv"
    path.write_text("MLII\n" + "\n".join(f"{v:.3f}" for v in _wave()))
    with pytest.raises(InputError, match=r"^lead\.csv: " + message):
        read_csv(path, fs=fs)
    with pytest.raises(InputError, match=r"^lead\.csv: " + message):
        load_upload([("lead.csv", path.read_bytes())], fs=fs)


# -------------------------------------------------------------------------------------------- too short
def test_less_than_two_seconds(tmp_path):
    with pytest.raises(InputError, match=r"^short: the signal is 1\.94 s long \(700 samples at 360 Hz\); "
                                         r"at least 2 s is needed"):
        make_record(_wave(700), 360, name="short")
    path = tmp_path / "short.csv"
    path.write_text("time,MLII\n" + "\n".join(_csv_lines(360)))
    with pytest.raises(InputError, match=r"^short\.csv: the signal is 1\.00 s long \(360 samples at 360 Hz\)"):
        read_csv(path)


# ------------------------------------------------------------------------------------------------- CSV
def test_csv_non_numeric_cell_names_line_and_column(tmp_path):
    lines = _csv_lines()
    lines[41] = lines[41].split(",")[0] + ",abc"  # data row 41 is file line 43 (after the header)
    path = tmp_path / "bad.csv"
    path.write_text("time,MLII\n" + "\n".join(lines))
    with pytest.raises(InputError, match=r"^bad\.csv: line 43, column 'MLII': 'abc' is not a number"):
        read_csv(path)


def test_csv_non_numeric_time_cell(tmp_path):
    lines = _csv_lines()
    lines[9] = "ten," + lines[9].split(",")[1]
    path = tmp_path / "badtime.csv"
    path.write_text("time,MLII\n" + "\n".join(lines))
    with pytest.raises(InputError, match=r"^badtime\.csv: line 11, column 'time': 'ten' is not a number"):
        read_csv(path)


def test_csv_line_numbers_count_blank_lines(tmp_path):
    lines = [f"{v:.3f}" for v in _wave()]
    lines[100] = "1.2.3"
    path = tmp_path / "gaps.csv"
    path.write_text("MLII\n\n\n" + "\n".join(lines))  # two blank lines after the header
    with pytest.raises(InputError, match=r"^gaps\.csv: line 104, column 'MLII': '1\.2\.3' is not a number"):
        read_csv(path, fs=360)


def test_csv_without_header_names_the_column_number(tmp_path):
    lines = [f"{a:.3f},{b:.3f}" for a, b in zip(_wave(), _wave()[::-1])]
    lines[5] = "0.1,oops"
    path = tmp_path / "plain.csv"
    path.write_text("\n".join(lines))
    with pytest.raises(InputError, match=r"^plain\.csv: line 6, column 2: 'oops' is not a number"):
        read_csv(path, fs=360)


@pytest.mark.parametrize("content, message", [
    (b"", r"^empty\.csv is empty"),
    (b"\n  \n\n", r"^empty\.csv is empty"),
    (b"time,MLII,V5\n", r"^empty\.csv: has a header but no data rows"),
    (b"'Elapsed time','MLII','V5'\n'hh:mm:ss.mmm','mV','mV'\n", r"^empty\.csv: has a header but no data rows"),
], ids=["zero-bytes", "blank-lines", "header-only", "physionet-header-only"])
def test_empty_csv(tmp_path, content, message):
    _reader_and_upload_reject(read_csv, tmp_path / "empty.csv", content, message, fs=360)


@pytest.mark.parametrize("content", [
    "MLII\n" + "\n".join(f"{v:.3f}" for v in _wave()),
    "MLII,V5\n" + "\n".join(f"{v:.3f},{v:.3f}" for v in _wave()),
    "\n".join(f"{v:.3f}" for v in _wave()),
], ids=["one-lead", "two-leads", "no-header"])
def test_csv_without_time_column_needs_fs(tmp_path, content):
    path = tmp_path / "notime.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=r"^notime\.csv: no time column, so the sampling rate \(Hz\) must be given"):
        read_csv(path)
    assert read_csv(path, fs=360).fs == 360  # the same file with fs given is fine


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 20,  # NUL bytes
    (MITDB / "100.dat").read_bytes()[:6000],  # ECG samples, no NUL in the first bytes
    b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 10,
], ids=["all-bytes", "wfdb-dat", "png"])
def test_binary_file_named_csv(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"^data\.csv: not a text CSV file \(it contains binary data\)"):
        read_csv(path, fs=360)
    with pytest.raises(InputError, match=r"^data\.csv: not a text CSV file"):
        load_upload([("data.csv", content)], fs=360)


# -------------------------------------------------------------------------------------- NaN and gaps
def test_every_lead_nan_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"^nan: no usable lead: lead MLII: no valid samples \(all NaN or empty\); lead left out; lead V5: no valid"):
        make_record(np.full((3600, 2), np.nan), 360, name="nan", leads=["MLII", "V5"])
    path = tmp_path / "blank.csv"
    path.write_text("time,MLII,V5\n" + "\n".join(f"{i / 360:.6f},nan," for i in range(3600)))
    with pytest.raises(InputError, match=r"^blank\.csv: no usable lead: lead MLII: no valid samples"):
        read_csv(path)


@pytest.mark.parametrize("values", [1e30, 1e40, -3e7], ids=["1e30 mV", "beyond float32", "-30 kV"])
def test_impossible_amplitudes_are_refused(tmp_path, values):
    """No ECG reaches a kilovolt: a lead of such values is left out with its reason, and a record with no other
    lead is refused, in make_record and through the CSV reader (where 1e40 would overflow float32 to inf)."""
    with pytest.raises(InputError, match=r"^huge: no usable lead: lead MLII: most values are beyond ±1e\+06 mV"):
        make_record(np.full((3600, 1), values), 360, name="huge", leads=["MLII"])
    path = tmp_path / "huge.csv"
    path.write_text("MLII\n" + "\n".join(f"{values * (1 + 0.01 * np.sin(i))}" for i in range(3600)))
    with pytest.raises(InputError, match=r"^huge\.csv: no usable lead: lead MLII: most values are beyond"):
        read_csv(path, fs=360)
    rec = make_record(np.column_stack([_wave(), np.full(3600, values)]), 360, name="one", leads=["MLII", "V5"])
    assert rec.leads == ("MLII",) and any("lead V5: most values are beyond" in n for n in rec.notes)


def test_a_few_impossible_samples_become_gaps():
    x = _wave().copy()
    x[[500, 1500, 2500]] = 1e30
    rec = make_record(x, 360, name="spikes", leads=["MLII"])
    assert np.isfinite(rec.signal).all() and np.abs(rec.signal).max() < 10
    assert "lead MLII: 3 sample(s) beyond ±1e+06 mV, which no ECG reaches, treated as missing" in rec.notes


def test_amplitudes_in_wrong_units_are_flagged_not_refused():
    rec = make_record(_wave() * 200, 360, name="counts", leads=["MLII"])  # ADC counts read as mV
    assert rec.leads == ("MLII",) and any("check the units" in n for n in rec.notes)
    assert not any("check the units" in n for n in make_record(_wave(), 360, name="ok", leads=["MLII"]).notes)


def test_random_bytes_are_not_an_annotation_file(mitdb_copy):
    record = mitdb_copy("100", ("hea", "dat"))
    refused = 0
    for seed in range(6):
        (record.parent / "100.atr").write_bytes(np.random.default_rng(seed).bytes(4096))
        with pytest.raises(InputError, match=r"^100\.atr: not (an annotation file of this record|a readable WFDB)"):
            read_wfdb(record, ann_ext="atr")
        refused += 1
    assert refused == 6


# ------------------------------------------------------------------------------- wide and large CSVs
def test_csv_with_thousands_of_columns_is_refused_before_parsing(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(10_000)) + "\n" + ("0.1," * 9_999 + "0.1\n") * 20)
    with pytest.raises(InputError, match=r"^wide\.csv: line 1 has 10,000 columns; an ECG CSV holds"):
        read_csv(path, fs=360)


def test_one_endless_line_is_refused(tmp_path):
    path = tmp_path / "line.txt"
    path.write_text(",".join(["0.1"] * 2_500_000))  # 10 MB, one line
    with pytest.raises(InputError, match=r"^line\.txt: line 1 is over 64 KB long with more than"):
        read_csv(path, fs=360)


def test_large_csv_reads_the_same_as_a_small_one(tmp_path, monkeypatch):
    """Files over FAST_PATH_BYTES are parsed straight to numbers: same signal, rate and leads as the general
    path (header + units row, time column, decimal commas) and a bad cell still named by line and column."""
    from ecgapp import csvfile

    monkeypatch.setattr(csvfile, "FAST_PATH_BYTES", 2**20)  # 1 MB: keeps the test file small
    x = np.round(np.random.default_rng(0).normal(0, 0.5, (80_000, 2)), 3)
    # the time column starts at 23 h: float32 would be too coarse for it (2.8 samples at 360 Hz)
    text = "time;MLII;V5\ns;mV;uV\n" + "".join(f"{82800 + i / 360:.5f};{a};{b * 1000:.0f}\n".replace(".", ",")
                                               for i, (a, b) in enumerate(x))
    big = tmp_path / "big.csv"
    big.write_text(text)
    assert big.stat().st_size > csvfile.FAST_PATH_BYTES
    fast = read_csv(big)
    assert fast.signal.dtype == np.float32 and fast.leads == ("MLII", "V5")
    small = tmp_path / "small.csv"
    small.write_text("\n".join(text.splitlines()[:30_000]))
    slow = read_csv(small)
    assert abs(fast.fs - 360) < 1e-3 and abs(slow.fs - 360) < 1e-3
    np.testing.assert_allclose(fast.signal[: slow.n_samples], slow.signal, atol=1e-4)
    np.testing.assert_allclose(fast.signal, x, atol=1e-4)
    lines = text.splitlines()
    lines[50_002] = lines[50_002].rsplit(";", 1)[0] + ";abc"
    big.write_text("\n".join(lines))
    with pytest.raises(InputError, match=r"^big\.csv: line 50003, column 'V5': 'abc' is not a number"):
        read_csv(big)


@pytest.mark.parametrize("kind", ["utf-16", "clock times"])
def test_large_csv_that_is_not_plain_numbers_is_refused_not_read_as_strings(tmp_path, monkeypatch, kind):
    """Over GENERAL_PATH_MAX_BYTES the string-per-cell path (~10x the file in memory) is never taken."""
    from ecgapp import csvfile

    monkeypatch.setattr(csvfile, "FAST_PATH_BYTES", 2**18)
    monkeypatch.setattr(csvfile, "GENERAL_PATH_MAX_BYTES", 2**19)
    path = tmp_path / "odd.csv"
    if kind == "utf-16":
        path.write_bytes(("time,MLII\n" + "".join(f"{i / 360:.5f},0.1\n" for i in range(40_000))).encode("utf-16"))
    else:
        path.write_text("time,MLII\n" + "".join(f"0:{i // 360:02d}.{i % 360:03d},0.1\n" for i in range(60_000)))
    assert path.stat().st_size > csvfile.GENERAL_PATH_MAX_BYTES
    with pytest.raises(InputError, match=r"^odd\.csv: .*must hold plain numbers"):
        read_csv(path)


def test_one_nan_lead_is_dropped_with_a_note(tmp_path):
    x = np.column_stack([_wave(), np.full(3600, np.nan)])
    rec = make_record(x, 360, name="half", leads=["MLII", "V5"])
    assert rec.leads == ("MLII",) and rec.n_leads == 1
    np.testing.assert_allclose(rec.signal[:, 0], _wave(), atol=1e-6)
    assert "lead V5: no valid samples (all NaN or empty); lead left out" in rec.notes
    path = tmp_path / "half.csv"
    path.write_text("time,MLII,V5\n" + "\n".join(f"{line}," for line in _csv_lines()))  # V5 cells empty
    rec = read_csv(path)
    assert rec.leads == ("MLII",) and any("lead V5: no valid samples" in n for n in rec.notes)


def test_short_gap_is_interpolated():
    x = _wave()
    y = x.copy()
    y[1000:1010] = np.nan  # 10 samples = 28 ms at 360 Hz
    rec = make_record(y, 360, name="gap", leads=["MLII"])
    s = rec.signal[:, 0]
    assert not np.isnan(s).any()
    lo, hi = sorted((x[999], x[1010]))
    assert np.all((s[1000:1010] >= lo - 1e-6) & (s[1000:1010] <= hi + 1e-6))
    np.testing.assert_allclose(s[1000:1010], np.linspace(x[999], x[1010], 12)[1:-1], atol=1e-5)
    np.testing.assert_allclose(np.delete(s, range(1000, 1010)), np.delete(x, range(1000, 1010)), atol=1e-6)
    assert rec.notes == ("lead MLII: 1 short gap(s) of missing samples (up to 28 ms) interpolated",)


def test_long_gap_is_masked_never_filled():
    x = _wave()
    y = x.copy()
    y[1000:1720] = np.nan  # 2 s
    rec = make_record(y, 360, name="gap", leads=["MLII"])
    s = rec.signal[:, 0]
    assert np.isnan(s[1000:1720]).all() and np.isnan(s).sum() == 720
    np.testing.assert_allclose(np.delete(s, range(1000, 1720)), np.delete(x, range(1000, 1720)), atol=1e-6)
    assert len(rec.notes) == 1 and "2.00 s" in rec.notes[0] and "masked" in rec.notes[0]
    assert "interpolated" not in rec.notes[0]


def test_notes_name_unnamed_leads_once():
    y = _wave()
    y[100:103] = np.nan
    rec = make_record(y, 360, name="plain")  # no lead names: "lead 1"
    assert rec.notes == ("lead 1: 1 short gap(s) of missing samples (up to 8 ms) interpolated",)


def test_gap_at_the_start_is_masked_not_extrapolated():
    y = _wave()
    y[:5] = np.nan  # short, but there is no sample before it to interpolate from
    rec = make_record(y, 360, name="edge", leads=["MLII"])
    assert np.isnan(rec.signal[:5, 0]).all() and not np.isnan(rec.signal[5:, 0]).any()
    assert "masked" in " ".join(rec.notes)


def test_csv_empty_cells_are_gaps(tmp_path):
    lines = _csv_lines()
    for i in range(2000, 2005):  # 5 empty cells: interpolated
        lines[i] = lines[i].split(",")[0] + ","
    for i in range(3000, 3400):  # 400 empty cells (1.1 s): masked
        lines[i] = lines[i].split(",")[0] + ","
    path = tmp_path / "gaps.csv"
    path.write_text("time,MLII\n" + "\n".join(lines))
    rec = read_csv(path)
    s = rec.signal[:, 0]
    assert not np.isnan(s[2000:2005]).any() and np.isnan(s[3000:3400]).all() and np.isnan(s).sum() == 400
    notes = " ".join(rec.notes)
    assert "interpolated" in notes and "masked" in notes


# ------------------------------------------------------------------------------------------------- EDF
@pytest.fixture
def edf_100(tmp_path, mitdb_copy) -> Path:
    from wfdb.io.convert.edf import wfdb_to_edf

    out = tmp_path / "p100.edf"
    wfdb_to_edf(str(mitdb_copy("100", ("hea", "dat"))), sampto=3600, output_filename=str(out))
    return out


def test_truncated_edf(edf_100):
    raw = edf_100.read_bytes()
    cut = edf_100.with_name("cut.edf")
    cut.write_bytes(raw[:-500])
    message = rf"^cut\.edf is truncated: its header declares \d+ data records \({len(raw)} bytes\) but the " \
              rf"file holds {len(raw) - 500} bytes"
    with pytest.raises(InputError, match=message):
        read_edf(cut)
    with pytest.raises(InputError, match=message):
        load_upload([("cut.edf", cut.read_bytes())])


@pytest.mark.parametrize("content, message", [
    (b"time,MLII\n0,1\n" * 40, r"^fake\.edf: not an EDF file \(it does not start with an EDF header\)"),
    (b"PK\x03\x04" + bytes(1000), r"^fake\.edf: not an EDF file \(it does not start with an EDF header\)"),
    (b"0       " + b"x" * 400, r"^fake\.edf: not an EDF file \(its header fields cannot be read\)"),
    (b"", r"^fake\.edf is empty \(0 bytes\)"),
], ids=["text", "zip", "garbage-after-magic", "empty"])
def test_non_edf_bytes_named_edf(tmp_path, content, message):
    _reader_and_upload_reject(read_edf, tmp_path / "fake.edf", content, message)


# ---------------------------------------------------------------------------------------------- size
def test_upload_over_the_size_limit():
    with pytest.raises(InputError, match=r"^upload: big\.csv is 2\.0 kB, over the upload limit of 1000 bytes"):
        load_upload([("big.csv", b"1\n" * 1024)], max_bytes=1000)
    files = [("100.hea", HEADER_100.encode()), ("100.dat", bytes(3 * 2**20))]
    with pytest.raises(InputError, match=re.escape("upload: 100.hea, 100.dat are 3.0 MB in all, over the "
                                                   "upload limit of 1.0 MB")):
        load_upload(files, max_bytes=2**20)


def test_upload_contents_must_be_bytes():
    with pytest.raises(InputError, match=r"^upload: a\.csv: contents must be bytes, got str"):
        load_upload([("a.csv", "0,1\n")])


def test_transposed_array_is_explained():
    from ecgapp.records import make_record

    with pytest.raises(InputError, match=r"x: got 2 rows of 3600 values: that looks like leads x samples"):
        make_record(np.zeros((2, 3600)), 360, name="x")


# ------------------------------------------------------------------ annotation files that do not fit
@pytest.fixture(scope="module")
def shipped_model():
    from ecgapp.model import load_model

    return load_model(Path(__file__).resolve().parent.parent / "weights" / "hybrid", device="cpu")[0]


def _files100(extra: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    base = Path(SHARED_DATA_DIR) / "mitdb"
    return [("100.hea", (base / "100.hea").read_bytes()), ("100.dat", (base / "100.dat").read_bytes()), *extra]


def test_annotation_file_with_a_negative_skip_gives_a_clear_message(shipped_model):
    from ecgapp.analysis import analyse

    record = load_upload(_files100([("100.atr", b"\x00\xec\xff\xff\xff\xff\x00\x00\x00\x00")]))
    with pytest.raises(InputError, match=r"no reference beat annotations; choose detected beats"):
        analyse(shipped_model, record, source="reference")
    assert len(analyse(shipped_model, record, source="detected").table) > 2200


def test_annotation_file_under_a_csv_like_name_is_used_as_annotations(shipped_model):
    from ecgapp.analysis import analyse

    atr = (Path(SHARED_DATA_DIR) / "mitdb" / "100.atr").read_bytes()
    record = load_upload(_files100([("ann.csv", atr)]))
    assert len(analyse(shipped_model, record, source="reference").table) == 2273
