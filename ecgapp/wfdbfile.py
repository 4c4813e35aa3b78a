"""Reading WFDB records (PhysioNet's format: ``.hea`` header, ``.dat`` signals, annotation files).

wfdb's own errors on a damaged file are cryptic (``operands could not be broadcast``), so ``read_wfdb``
checks the header's sampling rate and file references, the data file sizes and the header checksums
first, and says which file is wrong and how.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .errors import InputError, UnsupportedFormatError
from .records import Annotations, Record, check_sampling_rate, make_record

# Bits per sample of each WFDB signal file format (FLAC formats 508/516/524 are compressed: no size check).
_WFDB_BITS = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12,
              "310": 32 / 3, "311": 32 / 3}
_WFDB_COMPRESSED = {"508", "516", "524"}
_SAFE_DATA_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
# gain[(baseline)][/units]: a finite number, an optional integer baseline, optional units
_GAIN_FIELD = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(\([+-]?\d+\))?(/\S+)?$")
MAX_SIGNALS = 64
READ_BLOCK = 2**21  # samples per lead read and converted to mV at a time: a 24-hour record in ~15 blocks, so
# wfdb's int64 working copies stay small (read whole, a 24-hour file's copies run to gigabytes)
_BLOCK_FORMATS = {"16": 16, "61": 16, "80": 16, "160": 16, "212": 16, "24": 32, "32": 32}  # -> digital bits


def header_data_files(header_path: Path) -> tuple[str, list[str]]:
    """Record name and the data file names a WFDB header refers to, read as plain text.

    Rejects multi-segment headers, a sampling rate that is not a plausible number of Hz, and file names
    that are not bare names in the header's folder (an absolute path, ``..``, or a sub-folder), so that
    reading the record cannot touch any other file.
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
    if len(fields) > 2:  # "fs[/counter_freq[(base_counter)]]"; wfdb silently reads 250 Hz for "-360" or "nan"
        fs_text = re.split(r"[/(]", fields[2], maxsplit=1)[0]
        try:
            fs_value = float(fs_text)
        except ValueError:
            raise InputError(f"{header_path.name}: sampling rate {fs_text!r} is not a number") from None
        check_sampling_rate(fs_value, header_path.name)
    if len(lines) - 1 < n_sig:
        raise InputError(
            f"{header_path.name}: the header declares {n_sig} signals but describes {len(lines) - 1}"
        )
    if n_sig > MAX_SIGNALS:
        raise InputError(f"{header_path.name}: the header declares {n_sig:,} signals; an ECG record has at most "
                         f"{MAX_SIGNALS}")
    for k, line in enumerate(lines[1:1 + n_sig], start=2):
        tokens = line.split()
        if len(tokens) > 2 and not _GAIN_FIELD.match(tokens[2]):  # wfdb would read "nan" as units, "abc" as 0
            raise InputError(f"{header_path.name}: signal line {k}: gain field {tokens[2]!r} is not valid "
                             f"(expected ADC units per physical unit, e.g. 200, 200(0) or 200(-1024)/mV)")
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
    one_per_frame = all((s or 1) == 1 for s in header.samps_per_frame)
    n = header.sig_len
    if n and one_per_frame and set(header.fmt) <= set(_BLOCK_FORMATS):  # read block by block
        bits = max(_BLOCK_FORMATS[f] for f in header.fmt)
        spans = [(a, min(a + READ_BLOCK, n)) for a in range(0, n, READ_BLOCK)]
    else:  # multi-rate frames, difference or packed formats: wfdb reads it whole
        bits, spans = 64, [(0, None)]
    signal, sums = None, 0
    for a, b in spans:
        try:
            rec = wfdb.rdrecord(str(path), sampfrom=a, sampto=b, physical=False, return_res=bits)
        except Exception as exc:
            raise InputError(f"{hea.name}: could not read its signal data ({type(exc).__name__}: {exc})") from None
        if signal is None:
            signal = np.empty((n if b is not None else rec.sig_len, rec.n_sig), np.float32)
        if one_per_frame:
            sums = sums + np.sum(rec.d_signal, axis=0, dtype=np.int64)
        signal[a: a + rec.sig_len] = rec.dac(expanded=False, return_res=32)
    if header.checksum is not None and one_per_frame:
        for lead, want, got in zip(rec.sig_name, header.checksum, np.asarray(sums) % 65536):
            if want is None:  # the checksum field is optional: headers written by other tools often omit it
                continue
            if (int(want) - int(got)) % 65536:
                raise InputError(
                    f"header and data disagree: the checksum of lead {lead} in {rec.file_name[0]} is "
                    f"{got}, {hea.name} says {int(want) % 65536}; the data file is corrupt or belongs to "
                    f"another record"
                )
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
            check_annotations_fit(ann.sample, ann.symbol, len(signal), ann_path.name)  # rec: the last block only
            annotations = Annotations(ann.sample, ann.symbol)
    return make_record(
        signal, header.fs, name=name or base, leads=rec.sig_name, units=rec.units,
        annotations=annotations, comments=rec.comments or (), source=hea.name,
    )


def check_annotations_fit(sample: np.ndarray, symbol, n_samples: int, fname: str) -> None:
    """Raise InputError if an annotation file cannot be this record's: most of its annotations fall outside
    the record's ``n_samples`` samples, or many of its codes are undefined (what random bytes decode to; a
    real file may hold a few annotations past the end of a shortened record, which make_record drops)."""
    from wfdb.io.annotation import ann_label_table

    sample = np.asarray(sample)
    if sample.size == 0:
        return
    outside = int(((sample < 0) | (sample >= n_samples)).sum())
    known = set(ann_label_table["symbol"]) - {" "}
    undefined = sum(1 for s in symbol if s not in known)
    if outside > 0.5 * sample.size or undefined > max(2, 0.05 * sample.size):
        raise InputError(
            f"{fname}: not an annotation file of this record ({outside} of {sample.size} annotations fall "
            f"outside its {n_samples} samples, {undefined} have undefined codes); remove it or use detected beats"
        )
