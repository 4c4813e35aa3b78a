"""Property-based fuzz of the readers (issue 11): whatever bytes arrive, a reader returns a valid Record or
raises InputError naming the file; never another exception, never a record the pipeline cannot use.

Hypothesis builds CSV text from a grammar of what ECG exports hold and what goes wrong in them, mutates a real
WFDB record's header and data, and throws raw bytes at the CSV and EDF readers. Bounded: a fixed number of
examples per property, derandomized (the same cases on every run, so CI cannot flake), no example database.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import numpy as np
import pytest
import wfdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MITDB_DIR
from ecgapp.csvfile import read_csv
from ecgapp.edffile import read_edf
from ecgapp.errors import InputError
from ecgapp.records import Record
from ecgapp.wfdbfile import read_wfdb

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def check(read, path: Path, names: tuple[str, ...] | None = None) -> None:
    """The property: a usable Record, or an InputError that names the file (one of ``names``)."""
    try:
        rec = read(path)
    except InputError as exc:
        assert any(n in str(exc) for n in (names or (path.name,))), str(exc)
        return
    assert isinstance(rec, Record)
    assert rec.signal.ndim == 2 and rec.signal.shape[1] == len(rec.leads) >= 1
    assert rec.signal.dtype == np.float32 and np.isfinite(rec.fs) and 50 <= rec.fs <= 10_000
    assert rec.n_samples >= 2 * rec.fs - 1
    finite = np.isfinite(rec.signal)
    assert finite.any() and not np.isinf(rec.signal).any()  # missing samples are NaN, never inf


# ------------------------------------------------------------------------------------------------ CSV
cells = st.one_of(
    st.floats(-5, 5, allow_nan=False).map(lambda v: f"{v:.3f}"),  # ordinary mV
    st.floats(allow_nan=True, allow_infinity=True).map(repr),  # nan, inf, 1e308
    st.sampled_from(["", "nan", "NA", "-", "null", "1e40", "-1e40", "0,5", "'0.1'", '"0.2"', "1.2.3", "µV", "abc",
                     "00:00:01.500", "\x00", "１２", " 7 "]),
    st.text(string.printable, max_size=6),
)
headers = st.one_of(
    st.none(),
    st.lists(st.sampled_from(["time", "time (ms)", "t", "sample", "MLII", "V5", "MLII (mV)", "V1 (uV)", "ECG",
                              "lead II [mV]", "", "x"]), min_size=1, max_size=4),
)


@st.composite
def csv_texts(draw) -> str:
    sep = draw(st.sampled_from([",", ";", "\t", " "]))
    n_cols = draw(st.integers(1, 4))
    header = draw(headers) if draw(st.integers(0, 3)) else None
    rows = []
    if header is not None:
        rows.append(sep.join(header[:n_cols]))
    if draw(st.integers(0, 9)) < 8:  # mostly a clean stretch long enough to be an ECG (2 s at 250 Hz and more)
        n = draw(st.integers(400, 2500))
        t0 = draw(st.sampled_from([0.0, 82800.0]))
        good = [sep.join([f"{t0 + i / 250:.4f}"] + [f"{np.sin(i / 20) * k:.3f}" for k in range(1, n_cols)])
                for i in range(n)]
        rows += good
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 3, 30]))):  # odd rows, mostly as wide as the others
        width = draw(st.sampled_from([n_cols, n_cols, n_cols, 1, n_cols + 1]))
        rows.insert(draw(st.integers(0, len(rows))), sep.join(draw(st.lists(cells, min_size=width, max_size=width))))
    if rows and draw(st.integers(0, 3)) == 0:  # a random line replaced by junk, anywhere in the file
        at = draw(st.integers(0, len(rows) - 1))
        rows[at] = draw(st.text(max_size=40))
    return "\n".join(rows) + draw(st.sampled_from(["", "\n", "\n\n", "\r\n"]))


@FUZZ
@given(text=csv_texts(), fs=st.sampled_from([250.0, None, 360.0, 1e9, float("nan")]))
def test_csv_reader_returns_a_record_or_names_the_problem(tmp_path, text, fs):
    path = tmp_path / "fuzz.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check(lambda p: read_csv(p, fs=fs), path)


@FUZZ
@given(data=st.binary(max_size=4000))
def test_csv_and_edf_readers_take_any_bytes(tmp_path, data):
    for name, read in (("junk.csv", lambda p: read_csv(p, fs=360)), ("junk.edf", read_edf)):
        path = tmp_path / name
        path.write_bytes(data)
        check(read, path)


# ----------------------------------------------------------------------------------------------- WFDB
@pytest.fixture(scope="module")
def small_record(tmp_path_factory) -> Path:
    """10 s of record 100 (both leads, format 212, with its annotations) as a WFDB record of its own."""
    folder = tmp_path_factory.mktemp("wfdb")
    rec = wfdb.rdrecord(str(MITDB_DIR / "100"), sampto=3600)
    wfdb.wrsamp("r", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=rec.p_signal, fmt=["212", "212"],
                adc_gain=rec.adc_gain, baseline=rec.baseline, write_dir=str(folder))
    ann = wfdb.rdann(str(MITDB_DIR / "100"), "atr", sampto=3600)
    wfdb.wrann("r", "atr", ann.sample, symbol=ann.symbol, write_dir=str(folder))
    return folder


header_edits = st.tuples(
    st.integers(0, 2),  # which header line
    st.integers(0, 8),  # which field on it
    st.sampled_from(["nan", "-360", "0", "1e12", "abc", "200(abc)/mV", "16", "212", "999", "r.dat", "../r.dat",
                     "5000", "-5", "", "1/2", "200(0)/uV", "3600000", "1"]),
)


@FUZZ
@given(edits=st.lists(header_edits, max_size=3),
       flips=st.lists(st.tuples(st.integers(0, 5399), st.integers(1, 255)), max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 5400)), extra=st.binary(max_size=20),
       ann=st.one_of(st.none(), st.binary(max_size=64)))
def test_wfdb_reader_returns_a_record_or_names_the_problem(small_record, tmp_path, edits, flips, cut, extra, ann):
    for ext in ("hea", "dat", "atr"):
        shutil.copyfile(small_record / f"r.{ext}", tmp_path / f"r.{ext}")
    lines = (tmp_path / "r.hea").read_text().splitlines()
    for line, field, value in edits:
        tokens = lines[line].split()
        tokens[min(field, len(tokens) - 1)] = value
        lines[line] = " ".join(tokens)
    (tmp_path / "r.hea").write_text("\n".join(lines) + "\n")
    data = bytearray((tmp_path / "r.dat").read_bytes())
    for at, x in flips:
        data[at % len(data)] ^= x
    data = data[:cut] if cut is not None else data
    (tmp_path / "r.dat").write_bytes(bytes(data) + extra)
    if ann is not None:
        (tmp_path / "r.atr").write_bytes(ann)
    check(lambda p: read_wfdb(p.with_suffix(""), ann_ext="atr"), tmp_path / "r.hea", names=("r.hea", "r.dat", "r.atr"))
