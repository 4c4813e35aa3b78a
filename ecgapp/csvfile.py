"""Reading ECGs from CSV text files (a spreadsheet export, PhysioNet's CSV export, a device dump).

Accepted: an optional header row (and a units row, as in PhysioNet's export), an optional time column
(seconds; ms when its name says so; or ``[h:]m:s.fff`` clock times), a sample-number column (left out),
and lead columns in mV unless a column name gives units (``V1 (uV)``). Columns are separated by ``,``,
``;``, tabs or spaces; with ``;`` or tabs, decimal commas are read. Every problem is reported with the
file name, and for bad cells with the line and the column.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .records import Record, check_sampling_rate, make_record

_TIME_NAMES = re.compile(r"^(t|time|times|sec|secs|seconds|s|elapsed( time)?|timestamp)$")
_INDEX_NAMES = re.compile(r"^(sample|samples|sample ?#|sample ?(no\.?|nr\.?|number)|#|n|idx|index)$")
_UNIT_IN_NAME = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]+)\s*[\)\]]\s*$")  # "MLII (mV)", "time [ms]"
_NAN_WORDS = {"", "nan", "na", "n/a", "null", "none", "-"}
_DECIMAL_COMMA = re.compile(r"^\s*([+-]?\d*),(\d+(?:[eE][+-]?\d+)?)\s*$")  # "-0,145" (semicolon CSVs)
_SEPARATORS = (";", "\t", ",")
MAX_COLUMNS = 64  # a time column, a sample-number column and up to 62 leads; more is not one ECG recording
FAST_PATH_BYTES = 4 * 2**20  # larger files are parsed straight to numbers (a Python string per cell is ~60 bytes)
HEAD_BYTES = 2**16
GENERAL_PATH_MAX_BYTES = 40 * 2**20  # the general (string) path holds ~10x a file in memory: not for larger ones


def _split_name_unit(name: str) -> tuple[str, str | None]:
    name = name.strip().strip("'\"").strip()
    m = _UNIT_IN_NAME.match(name)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    for suffix in ("_ms", "_s", "_mv", "_uv"):  # time_ms, ecg_mV
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], name[-len(suffix) + 1:]
    return name, None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _decode_text(raw: bytes, fname: str) -> str:
    """The file as text (UTF-8, UTF-16 with a BOM, else Latin-1); InputError if it is binary data."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" export
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{fname}: not a text CSV file (broken UTF-16 text)") from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:  # Latin-1 text has a few accented letters ("µV"), binary data many
            if len(raw) - len(raw.translate(None, bytes(range(128, 256)))) > 0.05 * len(raw):
                raise InputError(f"{fname}: not a text CSV file (it contains binary data)") from None
            text = raw.decode("latin-1")
    control = sum(text.count(chr(c)) for c in [*range(32), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r\x0c")
    if "\x00" in text or control > 0.01 * len(text):
        raise InputError(f"{fname}: not a text CSV file (it contains binary data)")
    return text


def _separator(lines: list[str]) -> str:
    """The column separator: ';', tab or ',' if the first lines agree on it, else runs of white space (unless
    the rows below the first hold one value each: then the file is one column, whatever its header says)."""
    first = lines[:5]
    for sep in _SEPARATORS:
        counts = {ln.count(sep) for ln in first}
        if len(counts) == 1 and counts.pop() > 0:
            return sep
    sep = max(_SEPARATORS, key=first[0].count)
    if first[0].count(sep):
        return sep
    if not any(len(ln.split()) > 1 for ln in lines[1:6]):  # one column: a header such as "MLII (mV)" stays whole
        return ","
    return r"\s+"


def _clock_to_seconds(values: pd.Series, column: str, fname: str, line_of) -> np.ndarray:
    """Parse ``[h:]m:s.fff`` strings (PhysioNet's CSV export, hours only from 1 h on) into seconds."""
    parts = values.str.strip().str.strip("'\"").str.split(":")
    n_parts = parts.str.len().to_numpy()
    seconds = np.zeros(len(values))
    bad = (n_parts < 1) | (n_parts > 3)
    for k in range(3):  # from the right: seconds, minutes, hours
        field = pd.to_numeric(parts.str[-1 - k].where(n_parts > k, "0"), errors="coerce").to_numpy()
        bad |= ~np.isfinite(field) | (field < 0)
        seconds += np.nan_to_num(field) * 60 ** k
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{fname}: line {line_of(row)}, time column {column!r}: {values.iloc[row]!r} is not a time "
            f"(expected seconds or [h:]m:s.fff)"
        )
    return seconds


def _numeric_column(values: pd.Series, column: str, fname: str, line_of) -> np.ndarray:
    """Column as floats (float64; a large file's lead columns float32); empty/NaN words become NaN; any other non-number raises naming line and column.

    ``line_of(row)`` is the line number in the file of body row ``row``.
    """
    if pd.api.types.is_float_dtype(values):  # the fast path already parsed it
        return values.to_numpy()
    text = values.astype(str).str.strip().str.strip("'\"")
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() & ~text.str.lower().isin(_NAN_WORDS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{fname}: line {line_of(row)}, {column}: {text.iloc[row]!r} is not a number")
    return numbers.to_numpy(dtype=np.float64)


def _check_columns(first_line: str, sep: str, fname: str) -> None:
    n = len(re.split(sep, first_line.strip())) if sep == r"\s+" else first_line.count(sep) + 1
    if n > MAX_COLUMNS:
        raise InputError(f"{fname}: line 1 has {n:,} columns; an ECG CSV holds a time column and at most "
                         f"{MAX_COLUMNS} leads (is it one recording per column, or a transposed table?)")


def _count_lines(path: Path, block: int = 16 * 2**20) -> int:
    """Newlines in a file, read a block at a time (the file is never whole in memory)."""
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            n += chunk.count(b"\n")
    return n


def _read_large(path: Path, fname: str):
    """A large plain-numbers CSV parsed straight from the file to float32 (bounded memory: neither the file's
    bytes nor a string per cell are held), as (header rows, names, units, body, line numbers); None if it is
    not plain numbers (clock times, quoted or odd cells), to be read by the general path, which names the bad
    line and column."""
    with open(path, "rb") as fh:
        head_raw = fh.read(HEAD_BYTES)
    if head_raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    head_text = _decode_text(head_raw, fname)
    all_head = head_text.splitlines()[:-1] or head_text.splitlines()  # the last one may be cut
    head = [ln for ln in all_head if ln.strip()][:6]
    if not head:
        return None
    sep = _separator(head)
    if "\n" not in head_text and head_text.count(sep) >= MAX_COLUMNS:  # one line longer than HEAD_BYTES
        raise InputError(f"{fname}: line 1 is over {HEAD_BYTES // 1024} KB long with more than "
                         f"{head_text.count(sep):,} columns; an ECG CSV holds a time column and at most "
                         f"{MAX_COLUMNS} leads")
    _check_columns(head[0], sep, fname)
    table = _decimal_commas(pd.read_csv(io.StringIO("\n".join(head)), sep=sep, header=None, dtype=str,
                                        keep_default_na=False, engine="c" if sep != r"\s+" else "python"), sep)
    header_rows, names, units = _header(table)
    skip = [i for i, ln in enumerate(all_head) if ln.strip()][header_rows] if header_rows < len(head) else None
    if skip is None:
        return None
    decimal = "," if sep != "," and any("," in ln for ln in head[header_rows:]) else "."
    rows, ncol = _count_lines(path) + 1, table.shape[1]  # rows >= data lines: filled in place, then cut
    # the first column may be time in seconds: float64 (float32 is 2.8 samples coarse at 24 h, 360 Hz); leads float32
    first = np.empty(rows, np.float64 if ncol > 1 else np.float32)  # a single column is a lead
    rest = np.empty((rows, ncol - 1), np.float32)
    n = 0
    try:
        for chunk in pd.read_csv(path, sep=sep, header=None, skiprows=skip, dtype=np.float64,
                                 chunksize=1_000_000, na_values=sorted(_NAN_WORDS - {""}), keep_default_na=False,
                                 skip_blank_lines=True, decimal=decimal, encoding="utf-8-sig",
                                 engine="c" if sep != r"\s+" else "python"):
            if chunk.shape[1] != ncol:
                return None
            values = chunk.to_numpy()
            first[n: n + len(chunk)] = values[:, 0]
            rest[n: n + len(chunk)] = values[:, 1:]
            n += len(chunk)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        if path.stat().st_size > GENERAL_PATH_MAX_BYTES:  # the general path keeps a string per cell: too much memory here
            raise InputError(f"{fname}: below its header it is not plain numbers ({str(exc).splitlines()[0][:120]}); "
                             f"a CSV over {GENERAL_PATH_MAX_BYTES // 2**20} MB must hold plain numbers (seconds "
                             f"and mV, no clock times or quotes)") from None
        return None
    if ncol == 1:  # one lead: a float32 block the record can use as it is
        body = pd.DataFrame(first[:n, None], copy=False)
    else:
        body = pd.DataFrame(rest[:n], columns=range(1, ncol), copy=False)
        body.insert(0, 0, first[:n])
    # line of table row i (header rows first): exact unless blank lines sit inside the data
    return header_rows, names, units, body, lambda i: i + 1 if i < header_rows else skip + 1 + i - header_rows


def _read_table(path: Path, raw: bytes | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """All cells as strings (blank lines dropped) and, per table row, its line number in the file."""
    fname = path.name
    raw = path.read_bytes() if raw is None else raw
    if not raw.strip():
        raise InputError(f"{fname} is empty")
    text = _decode_text(raw, fname)
    all_lines = text.splitlines()
    line_numbers = np.array([i + 1 for i, ln in enumerate(all_lines) if ln.strip()])
    lines = [ln for ln in all_lines if ln.strip()]
    if not lines:
        raise InputError(f"{fname} is empty (only blank lines)")
    sep = _separator(lines)
    _check_columns(lines[0], sep, fname)
    try:
        table = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, header=None, dtype=str,
                            skip_blank_lines=False, keep_default_na=False,
                            engine="c" if sep != r"\s+" else "python")
    except Exception as exc:
        raise InputError(f"{fname}: not a readable CSV table ({type(exc).__name__}: {exc})") from None
    if len(table) != len(lines):  # quoted line breaks: line numbers in messages would be wrong
        line_numbers = np.arange(1, len(table) + 1)
    return _decimal_commas(table, sep), line_numbers


def _decimal_commas(table: pd.DataFrame, sep: str) -> pd.DataFrame:
    if sep != ",":  # European exports: "0,145" with ';' or tab between columns
        for c in table.columns:
            col = table[c]
            if col.str.contains(",", regex=False).any():
                table[c] = col.str.replace(_DECIMAL_COMMA, r"\1.\2", regex=True)
    return table


def _header(table: pd.DataFrame) -> tuple[int, list[str], list[str | None]]:
    """(number of header rows, column names, column units) from a header row and a units row if any."""
    first_row = [str(c).strip().strip("'\"") for c in table.iloc[0]]
    names = [""] * table.shape[1]
    units: list[str | None] = [None] * table.shape[1]
    if any(_is_number(c) for c in first_row if c):
        return 0, names, units
    names, units = map(list, zip(*(_split_name_unit(c) for c in first_row)))
    if len(table) > 1:
        second = [str(c).strip().strip("'\"") for c in table.iloc[1]]
        cells = second if len(second) == 1 else second[1:]  # a units row names a unit for every lead
        if all(c and not _is_number(c) and c.lower() not in _NAN_WORDS for c in cells):
            # PhysioNet export: 'Elapsed time','MLII','V5' then 'hh:mm:ss.mmm','mV','mV'
            return 2, names, [u if u is not None else (s or None) for u, s in zip(units, second)]
    return 1, names, units


def _time_column(body, names, units, header_rows, fname, line_of, label) -> tuple[int | None, np.ndarray | None]:
    """Index of the time column and its values in seconds, or (None, None) if there is none."""
    for i, n in enumerate(names):
        if _TIME_NAMES.match(n.strip().lower()) or n.strip().lower().startswith("time"):
            col = body.iloc[:, i]
            if not pd.api.types.is_float_dtype(col):
                col = col.astype(str)
                if col.str.contains(":").any():
                    return i, _clock_to_seconds(col, n, fname, line_of)
            seconds = _numeric_column(col, label(i), fname, line_of)
            unit = (units[i] or "").lower()
            if unit in ("ms", "msec") or "ms" in n.lower().split("_"):
                seconds = seconds / 1000.0
            return i, seconds
    if header_rows == 0 and body.shape[1] >= 2:
        first = _numeric_column(body.iloc[:, 0], label(0), fname, line_of)
        step = np.diff(first)
        if first.size > 10 and np.all(np.isfinite(step)) and np.all(step > 0) and \
                np.ptp(step) <= 0.01 * np.median(step) + 1e-9:
            return 0, first  # unlabelled but evenly increasing: a time column in seconds
    return None, None


def _rate_from_time(time_s: np.ndarray, fs: float | None, tname: str, fname: str, line_of) -> float:
    """Sampling rate in Hz implied by an evenly spaced time column (checked against ``fs`` if given)."""
    if not np.all(np.isfinite(time_s)):
        row = int(np.flatnonzero(~np.isfinite(time_s))[0])
        raise InputError(f"{fname}: line {line_of(row)}, time column {tname!r} has no time")
    back = np.flatnonzero(np.diff(time_s) < 0)
    if back.size:
        row = int(back[0]) + 1
        raise InputError(
            f"{fname}: time column {tname!r} goes backwards at line {line_of(row)} "
            f"({time_s[row - 1]:g} s, then {time_s[row]:g} s); rows must be in time order"
        )
    if time_s.size < 2 or time_s[-1] <= time_s[0]:
        raise InputError(f"{fname}: time column {tname!r} is not increasing")
    fs_time = (time_s.size - 1) / (time_s[-1] - time_s[0])
    jitter = np.abs(time_s - time_s[0] - np.arange(time_s.size) / fs_time).max() * fs_time
    if jitter > 1.0:
        raise InputError(
            f"{fname}: time column {tname!r} is not evenly sampled (off by up to "
            f"{jitter:.1f} samples); resample to a fixed rate first"
        )
    if fs is not None and abs(fs - fs_time) > 0.01 * fs_time:
        raise InputError(
            f"{fname}: the time column implies {fs_time:.4g} Hz but the sampling rate given is {fs:g} Hz"
        )
    return fs_time


def read_csv(path: str | Path, fs: float | None = None, name: str | None = None) -> Record:
    """Read a CSV ECG into a Record (see the module docstring for the layouts understood).

    The sampling rate comes from the time column or, without one, from ``fs`` (Hz).
    """
    path = Path(path)
    fname = path.name
    if fs is not None:
        fs = check_sampling_rate(fs, fname)
    size = path.stat().st_size
    fast = _read_large(path, fname) if size > FAST_PATH_BYTES else None
    if fast is not None:
        header_rows, names, units, body, line_at = fast
    else:
        if size > GENERAL_PATH_MAX_BYTES:  # the general path holds a string per cell: ~10x the file
            raise InputError(f"{fname}: {size / 2**20:.0f} MB that is not a plain table of numbers under one "
                             f"header; a CSV over {GENERAL_PATH_MAX_BYTES // 2**20} MB must hold plain numbers "
                             f"(seconds and mV, no clock times or quotes, in UTF-8)")
        table, line_numbers = _read_table(path)
        header_rows, names, units = _header(table)
        body = table.iloc[header_rows:].reset_index(drop=True)
        line_at = line_numbers.__getitem__
    if body.empty:
        raise InputError(f"{fname}: has a header but no data rows")

    def line_of(row: int) -> int:
        return int(line_at(header_rows + row))

    def label(i: int) -> str:
        return f"column {names[i]!r}" if names[i] else f"column {i + 1}"

    time_col, time_s = _time_column(body, names, units, header_rows, fname, line_of, label)
    notes = []
    skip = {time_col}
    for i, n in enumerate(names):
        if i != time_col and _INDEX_NAMES.match(n.strip().lower()):
            col = body.iloc[:, i]
            index = (col.to_numpy() if pd.api.types.is_float_dtype(col)
                     else pd.to_numeric(col.astype(str).str.strip(), errors="coerce").to_numpy())
            if np.all(np.diff(index) == 1):  # sample numbers 0, 1, 2, ...: not a lead
                skip.add(i)
                notes.append(f"column {n!r} (sample numbers) left out")
    lead_cols = [i for i in range(body.shape[1]) if i not in skip]
    if not lead_cols:
        raise InputError(f"{fname}: no lead columns besides the time column")
    if time_s is not None:
        fs = _rate_from_time(time_s, fs, names[time_col] or "column 1", fname, line_of)
        notes.insert(0, f"sampling rate {fs:.4g} Hz taken from the time column")
    elif fs is None:
        raise InputError(f"{fname}: no time column, so the sampling rate (Hz) must be given: fill in "
                         f"'CSV sampling rate (Hz)' in the app, or pass --fs on the command line")
    if fast is not None and lead_cols == list(range(body.shape[1])):
        signal = body.to_numpy(copy=False)  # every column a lead: the parsed block itself, no copy
    else:
        signal = np.column_stack([_numeric_column(body.iloc[:, i], label(i), fname, line_of) for i in lead_cols])
    del body  # the parsed table: not needed beside the signal (large files)
    lead_units = [units[i] or "mV" for i in lead_cols]
    leads = [names[i] or f"lead {k + 1}" for k, i in enumerate(lead_cols)]
    return make_record(signal, fs, name=name or path.stem, leads=leads, units=lead_units, notes=notes,
                       source=fname)
