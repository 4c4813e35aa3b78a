"""Readers that turn ECG files on disk (WFDB, EDF, CSV) into a Record, with clear errors for bad files.

wfdb's own errors on a damaged file are cryptic (``operands could not be broadcast``), so the WFDB and
EDF readers check file sizes, references and checksums first and say which file is wrong and how.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, UnsupportedFormatError
from .records import Annotations, Record, check_sampling_rate, make_record

# Bits per sample of each WFDB signal file format (FLAC formats 508/516/524 are compressed: no size check).
_WFDB_BITS = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12,
              "310": 32 / 3, "311": 32 / 3}
_WFDB_COMPRESSED = {"508", "516", "524"}
_SAFE_DATA_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def header_data_files(header_path: Path) -> tuple[str, list[str]]:
    """Record name and the data file names a WFDB header refers to, read as plain text.

    Rejects multi-segment headers and file names that are not bare names in the header's folder (an
    absolute path, ``..``, or a sub-folder), so that reading the record cannot touch any other file.
    """
    try:
        text = header_path.read_bytes().decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{header_path.name}: not a WFDB header (it is not plain text)") from None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise InputError(f"{header_path.name}: empty WFDB header")
    fields = lines[0].split()
    if "/" in fields[0]:
        raise UnsupportedFormatError(
            f"{header_path.name}: multi-segment WFDB records are not supported; upload a single-segment "
            f"record (one .hea with its .dat)"
        )
    try:
        n_sig = int(fields[1])
    except (IndexError, ValueError):
        raise InputError(f"{header_path.name}: first line {lines[0]!r} is not a WFDB record line") from None
    if n_sig < 1:
        raise InputError(f"{header_path.name}: the header declares no signals")
    if len(lines) - 1 < n_sig:
        raise InputError(
            f"{header_path.name}: the header declares {n_sig} signals but describes {len(lines) - 1}"
        )
    files = [ln.split()[0] for ln in lines[1:1 + n_sig]]
    for f in files:
        if not _SAFE_DATA_NAME.match(f):
            raise InputError(
                f"{header_path.name}: data file name {f!r} is not allowed (only a plain file name in the "
                f"same folder as the header)"
            )
    return fields[0], files


def _check_data_sizes(header, folder: Path, hea_name: str) -> None:
    """Compare every data file's size with what the header declares (empty, truncated, too long)."""
    by_file: dict[str, list[int]] = {}
    for i, fname in enumerate(header.file_name):
        by_file.setdefault(fname, []).append(i)
    for fname, idx in by_file.items():
        path = folder / fname
        if not path.is_file():
            raise InputError(f"{hea_name} refers to data file {fname!r}, which is missing")
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"{fname} is empty (0 bytes); {hea_name} expects signal data in it")
        fmts = {header.fmt[i] for i in idx}
        unknown = fmts - set(_WFDB_BITS) - _WFDB_COMPRESSED
        if unknown:
            raise UnsupportedFormatError(f"{hea_name}: WFDB signal format {sorted(unknown)} is not supported")
        if header.sig_len is None or fmts & _WFDB_COMPRESSED:
            continue
        spf = [(header.samps_per_frame[i] or 1) for i in idx]
        frame_bits = sum(s * _WFDB_BITS[header.fmt[i]] for s, i in zip(spf, idx))
        offset = (header.byte_offset[idx[0]] or 0) if header.byte_offset else 0
        expected = offset + math.ceil(header.sig_len * frame_bits / 8)
        have = int((size - offset) * 8 // frame_bits)
        if size < expected:
            raise InputError(
                f"{fname} is truncated: {hea_name} declares {header.sig_len} samples per lead "
                f"(format {'/'.join(sorted(fmts))}, {expected} bytes) but the file holds {size} bytes, "
                f"about {max(have, 0)} samples"
            )
        if size > expected + max(4, math.ceil(frame_bits / 8)):
            raise InputError(
                f"header and data disagree: {fname} holds {size} bytes (about {have} samples per lead) but "
                f"{hea_name} declares {header.sig_len} samples ({expected} bytes); the header's length is "
                f"wrong or the data belongs to another record"
            )


def read_wfdb(record_path: str | Path, ann_ext: str | None = None, name: str | None = None) -> Record:
    """Read a single-segment WFDB record (``record_path`` without extension), optionally its annotations.

    ``ann_ext`` is the annotation file extension (e.g. ``"atr"``); ignored if that file does not exist.
    Checks the data file sizes and the header's checksums so that corrupt data is reported, not read.
    """
    import wfdb

    path = Path(record_path)
    folder, base = path.parent, path.name
    hea = folder / f"{base}.hea"
    if not hea.is_file():
        raise InputError(f"{hea.name}: WFDB header file not found")
    header_data_files(hea)
    try:
        header = wfdb.rdheader(str(path))
    except Exception as exc:
        raise InputError(f"{hea.name}: not a readable WFDB header ({type(exc).__name__}: {exc})") from None
    check_sampling_rate(header.fs, hea.name)
    _check_data_sizes(header, folder, hea.name)
    try:
        rec = wfdb.rdrecord(str(path), physical=False)
    except Exception as exc:
        raise InputError(f"{hea.name}: could not read its signal data ({type(exc).__name__}: {exc})") from None
    if header.checksum is not None and all((s or 1) == 1 for s in rec.samps_per_frame):
        actual = rec.calc_checksum()
        for lead, want, got in zip(rec.sig_name, header.checksum, actual):
            if (int(want) - int(got)) % 65536:
                raise InputError(
                    f"header and data disagree: the checksum of lead {lead} in {rec.file_name[0]} is "
                    f"{got}, {hea.name} says {int(want) % 65536}; the data file is corrupt or belongs to "
                    f"another record"
                )
    signal = rec.dac(expanded=False, return_res=32)
    annotations = None
    if ann_ext:
        ann_path = folder / f"{base}.{ann_ext}"
        if ann_path.is_file():
            try:
                ann = wfdb.rdann(str(path), ann_ext)
            except Exception as exc:
                raise InputError(
                    f"{ann_path.name}: not a readable WFDB annotation file ({type(exc).__name__}: {exc})"
                ) from None
            annotations = Annotations(ann.sample, ann.symbol)
    return make_record(
        signal, rec.fs, name=name or base, leads=rec.sig_name, units=rec.units,
        annotations=annotations, comments=rec.comments or (), source=hea.name,
    )


def _edf_expected_size(raw: bytes, fname: str) -> int:
    """Bytes an EDF file must hold according to its own header (raises InputError if unreadable)."""
    try:
        n_header = int(raw[184:192].decode("ascii").strip())
        n_records = int(raw[236:244].decode("ascii").strip())
        ns = int(raw[252:256].decode("ascii").strip())
        spr_at = 256 + ns * 216
        spr = [int(raw[spr_at + 8 * i: spr_at + 8 * i + 8].decode("ascii").strip()) for i in range(ns)]
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{fname}: not an EDF file (its header cannot be read)") from None
    if ns < 1 or n_header != 256 * (ns + 1):
        raise InputError(f"{fname}: not an EDF file (inconsistent header: {ns} signals, {n_header} bytes)")
    return n_header + max(n_records, 0) * sum(spr) * 2


def read_edf(path: str | Path) -> Record:
    """Read an EDF/EDF+ file; channels not in volts (annotations, temperature, ...) are left out."""
    from wfdb.io.convert.edf import read_edf as wfdb_read_edf

    path = Path(path)
    raw = path.read_bytes()
    if len(raw) == 0:
        raise InputError(f"{path.name} is empty (0 bytes)")
    if len(raw) < 256 or raw[:8] != b"0       ":
        raise InputError(f"{path.name}: not an EDF file (it does not start with an EDF header)")
    expected = _edf_expected_size(raw, path.name)
    if len(raw) < expected:
        raise InputError(f"{path.name} is truncated: its header declares {expected} bytes, the file holds {len(raw)}")
    try:
        rec = wfdb_read_edf(str(path))
    except Exception as exc:
        raise InputError(f"{path.name}: could not read EDF data ({type(exc).__name__}: {exc})") from None
    spf = list(rec.samps_per_frame)
    keep = [i for i, s in enumerate(spf) if s == max(spf)]
    notes = []
    if len(keep) < len(spf):
        dropped = ", ".join(rec.sig_name[i] for i in range(len(spf)) if i not in keep)
        notes.append(f"channels sampled at a lower rate were left out: {dropped}")
    signal = rec.p_signal[:, keep] if rec.p_signal is not None else np.column_stack(
        [rec.e_p_signal[i] for i in keep])
    return make_record(
        signal, rec.fs * max(spf), name=path.stem, leads=[rec.sig_name[i] for i in keep],
        units=[rec.units[i] for i in keep], comments=rec.comments or (), notes=notes, source=path.name,
    )


# ---------------------------------------------------------------------------------------------------- CSV
_TIME_NAMES = re.compile(r"^(t|time|times|sec|secs|seconds|s|elapsed( time)?|timestamp)$")
_UNIT_IN_NAME = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]+)\s*[\)\]]\s*$")  # "MLII (mV)", "time [ms]"
_NAN_WORDS = {"", "nan", "na", "n/a", "null", "none", "-"}


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


def _clock_to_seconds(values: pd.Series) -> np.ndarray:
    """Parse ``[h:]m:s.fff`` strings (PhysioNet's CSV export) into seconds."""
    parts = values.str.strip().str.strip("'\"").str.split(":", expand=True).astype(float)
    seconds = np.zeros(len(values))
    for col in parts.columns:
        seconds = seconds * 60 + parts[col].to_numpy()
    return seconds


def _numeric_column(values: pd.Series, column: str, fname: str, first_line: int) -> np.ndarray:
    """Column as float64; empty/NaN words become NaN; any other non-number raises naming row and column."""
    text = values.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() & ~text.str.lower().isin(_NAN_WORDS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{fname}: line {first_line + row}, column {column!r}: {text.iloc[row]!r} is not a number"
        )
    return numbers.to_numpy(dtype=np.float64)


def read_csv(path: str | Path, fs: float | None = None, name: str | None = None) -> Record:
    """Read a CSV ECG: an optional header row (and units row), an optional time column, lead columns.

    The sampling rate comes from the time column (seconds, or ms when its name says so, or ``m:ss.fff``)
    or, without one, from ``fs`` (Hz). Amplitudes are mV unless a column name gives units (``V1 (uV)``).
    """
    path = Path(path)
    fname = path.name
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"{fname} is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if "\x00" in text:
        raise InputError(f"{fname}: not a text CSV file (it contains binary data)")
    lines = text.splitlines()
    sample_line = next((ln for ln in lines if ln.strip()), "")
    sep = max([",", ";", "\t"], key=sample_line.count) if any(c in sample_line for c in ",;\t") else r"\s+"
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, skip_blank_lines=True,
                            keep_default_na=False, engine="c" if sep != r"\s+" else "python")
    except Exception as exc:
        raise InputError(f"{fname}: not a readable CSV table ({type(exc).__name__}: {exc})") from None
    first_row = [str(c).strip().strip("'\"") for c in table.iloc[0]]
    header_rows = 0
    names = [f"lead {i + 1}" for i in range(table.shape[1])]
    units: list[str | None] = [None] * table.shape[1]
    if not any(_is_number(c) for c in first_row if c):
        header_rows = 1
        names, units = map(list, zip(*(_split_name_unit(c) for c in first_row)))
        if len(table) > 1:
            second = [str(c).strip().strip("'\"") for c in table.iloc[1]]
            cells = second if len(second) == 1 else second[1:]  # a units row names a unit for every lead
            if all(c and not _is_number(c) and c.lower() not in _NAN_WORDS for c in cells):  # PhysioNet export: 'hh:mm:ss.mmm','mV','mV'
                header_rows = 2
                units = [u if u is not None else (s or None) for u, s in zip(units, second)]
    body = table.iloc[header_rows:].reset_index(drop=True)
    if body.empty:
        raise InputError(f"{fname}: has a header but no data rows")

    time_col = None
    for i, n in enumerate(names):
        if _TIME_NAMES.match(n.strip().lower()) or n.strip().lower().startswith("time"):
            time_col = i
            break
    time_s = None
    if time_col is not None:
        col = body.iloc[:, time_col].astype(str)
        if col.str.contains(":").any():
            try:
                time_s = _clock_to_seconds(col)
            except ValueError:
                raise InputError(f"{fname}: time column {names[time_col]!r} has unreadable times") from None
        else:
            time_s = _numeric_column(col, names[time_col], fname, header_rows + 1)
            unit = (units[time_col] or "").lower()
            if unit in ("ms", "msec") or "ms" in names[time_col].lower().split("_"):
                time_s = time_s / 1000.0
    elif header_rows == 0 and body.shape[1] >= 2:
        first = _numeric_column(body.iloc[:, 0], names[0], fname, 1)
        step = np.diff(first)
        if first.size > 10 and np.all(np.isfinite(step)) and np.all(step > 0) and \
                np.ptp(step) <= 0.01 * np.median(step) + 1e-9:
            time_col, time_s = 0, first  # unlabelled but evenly increasing: a time column in seconds

    lead_cols = [i for i in range(body.shape[1]) if i != time_col]
    if not lead_cols:
        raise InputError(f"{fname}: no lead columns besides the time column")
    notes = []
    if time_s is not None:
        if not np.all(np.isfinite(time_s)) or time_s.size < 2 or time_s[-1] <= time_s[0]:
            raise InputError(f"{fname}: time column {names[time_col]!r} is not increasing")
        fs_time = (time_s.size - 1) / (time_s[-1] - time_s[0])
        jitter = np.abs(time_s - time_s[0] - np.arange(time_s.size) / fs_time).max() * fs_time
        if jitter > 1.0:
            raise InputError(
                f"{fname}: time column {names[time_col]!r} is not evenly sampled (off by up to "
                f"{jitter:.1f} samples); resample to a fixed rate first"
            )
        if fs is not None and abs(float(fs) - fs_time) > 0.01 * fs_time:
            raise InputError(
                f"{fname}: the time column implies {fs_time:.4g} Hz but the sampling rate given is {float(fs):g} Hz"
            )
        fs = fs_time
        notes.append(f"sampling rate {fs_time:.4g} Hz taken from the time column")
    elif fs is None:
        raise InputError(f"{fname}: no time column, so the sampling rate (Hz) must be given")
    signal = np.column_stack([
        _numeric_column(body.iloc[:, i], names[i], fname, header_rows + 1) for i in lead_cols
    ])
    lead_units = [units[i] or "mV" for i in lead_cols]
    return make_record(
        signal, fs, name=name or path.stem, leads=[names[i] or f"lead {i + 1}" for i in lead_cols],
        units=lead_units, notes=notes, source=fname,
    )
