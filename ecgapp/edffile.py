"""Reading EDF/EDF+ ECG files (European Data Format, Kemp et al. 1992/2003) into a Record.

Written here rather than taken from ``wfdb.io.convert.edf.read_edf`` because that reader mis-scales
channels of multi-rate files (it averages them in a Python loop with ``d - baseline / gain``) and sets
the sampling rate to the gcd of all channel rates. This one is vectorised numpy: each channel is read at
its own rate ``samples per data record / record duration`` (Hz) and scaled to physical units with the
header's digital and physical ranges. Channels that are not voltages (EDF+ annotations, temperature,
SpO2, ...) are left out; if the voltage channels differ in rate, the fastest group is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, UnsupportedFormatError
from .records import Record, make_record, mv_scale


@dataclass(frozen=True)
class EdfHeader:
    """The fields of an EDF header we use; one entry per signal in the lists."""

    header_bytes: int
    n_records: int  # -1 in the file means "unknown"; then counted from the file size
    record_s: float  # duration of one data record in seconds
    labels: list[str]
    units: list[str]
    physical_min: np.ndarray
    physical_max: np.ndarray
    digital_min: np.ndarray
    digital_max: np.ndarray
    samples_per_record: np.ndarray
    reserved: str  # "EDF+C" (continuous) or "EDF+D" (discontinuous) for EDF+


def _field(raw: bytes, start: int, width: int) -> str:
    return raw[start: start + width].decode("latin-1").strip()


def parse_header(raw: bytes, fname: str) -> EdfHeader:
    """Parse the fixed 256-byte header and the 256-byte-per-signal block; InputError if malformed."""
    if raw[:1] == b"\xff" and raw[1:8] == b"BIOSEMI":
        raise UnsupportedFormatError(f"{fname}: BDF (24-bit BioSemi) files are not supported; export EDF")
    if len(raw) < 256 or raw[:8] != b"0       ":
        raise InputError(f"{fname}: not an EDF file (it does not start with an EDF header)")
    try:
        header_bytes = int(_field(raw, 184, 8))
        n_records = int(_field(raw, 236, 8))
        record_s = float(_field(raw, 244, 8))
        ns = int(_field(raw, 252, 4))
    except ValueError:
        raise InputError(f"{fname}: not an EDF file (its header fields cannot be read)") from None
    if ns >= 1 and header_bytes == 256 * (ns + 1) and len(raw) < header_bytes:
        raise InputError(f"{fname} is truncated inside its header: the header declares {header_bytes} bytes "
                         f"for {ns} signals, the file holds {len(raw)}")
    if ns < 1 or header_bytes != 256 * (ns + 1):
        raise InputError(f"{fname}: not an EDF file (inconsistent header: {ns} signals, {header_bytes} bytes)")

    def column(offset: int, width: int) -> list[str]:
        return [_field(raw, 256 + offset * ns + i * width, width) for i in range(ns)]

    def numbers(offset: int, name: str) -> np.ndarray:
        values = column(offset, 8)
        try:
            return np.array([float(v) for v in values])
        except ValueError:
            raise InputError(f"{fname}: EDF header field '{name}' is not numeric: {values}") from None

    return EdfHeader(
        header_bytes=header_bytes, n_records=n_records, record_s=record_s,
        labels=column(0, 16), units=column(96, 8),
        physical_min=numbers(104, "physical minimum"), physical_max=numbers(112, "physical maximum"),
        digital_min=numbers(120, "digital minimum"), digital_max=numbers(128, "digital maximum"),
        samples_per_record=numbers(216, "number of samples").astype(np.int64),
        reserved=_field(raw, 192, 44),
    )


def read_edf(path: str | Path) -> Record:
    """Read an EDF/EDF+ file's ECG (voltage) channels into a Record, in mV at their own rate."""
    path = Path(path)
    fname = path.name
    raw = path.read_bytes()
    if not raw:
        raise InputError(f"{fname} is empty (0 bytes)")
    h = parse_header(raw, fname)
    if h.reserved.startswith("EDF+D"):
        raise UnsupportedFormatError(f"{fname}: discontinuous EDF+ (EDF+D) recordings are not supported")
    if not h.record_s > 0 or np.any(h.samples_per_record < 1):
        raise InputError(f"{fname}: EDF header gives data records of {h.record_s:g} s with "
                         f"{h.samples_per_record.tolist()} samples; these must be positive")
    frame = int(h.samples_per_record.sum())
    have = (len(raw) - h.header_bytes) // (2 * frame)
    if h.n_records < 0:
        n_records = have
    elif have < h.n_records:
        raise InputError(
            f"{fname} is truncated: its header declares {h.n_records} data records "
            f"({h.header_bytes + 2 * frame * h.n_records} bytes) but the file holds {len(raw)} bytes"
        )
    else:
        n_records = h.n_records
    if n_records < 1:
        raise InputError(f"{fname}: the EDF file holds no data records")

    annotation = [lab.startswith("EDF Annotations") for lab in h.labels]
    voltage = [not a and mv_scale(u) is not None and u != "" for a, u in zip(annotation, h.units)]
    if not any(voltage):
        raise InputError(f"{fname}: no ECG channel in volts (channels: {', '.join(h.labels)}; "
                         f"units: {', '.join(h.units) or 'none'})")
    rates = h.samples_per_record / h.record_s
    top = max(rates[i] for i in range(len(rates)) if voltage[i])
    keep = [i for i in range(len(rates)) if voltage[i] and rates[i] == top]
    notes = []
    left_out = []
    for i in range(len(rates)):
        if i not in keep:
            what = "annotations" if annotation[i] else f"{rates[i]:g} Hz, {h.units[i] or 'no unit'}"
            left_out.append(f"{h.labels[i]} ({what})")
    if left_out:
        notes.append("EDF channels left out: " + ", ".join(left_out))

    data = np.frombuffer(raw, dtype="<i2", count=n_records * frame, offset=h.header_bytes)
    data = data.reshape(n_records, frame)
    starts = np.concatenate(([0], np.cumsum(h.samples_per_record)[:-1]))
    columns = []
    for i in keep:
        span = h.digital_max[i] - h.digital_min[i]
        if span == 0 or h.physical_max[i] == h.physical_min[i]:
            raise InputError(f"{fname}: channel {h.labels[i]} has an empty digital or physical range")
        digital = data[:, starts[i]: starts[i] + h.samples_per_record[i]].reshape(-1).astype(np.float64)
        gain = (h.physical_max[i] - h.physical_min[i]) / span
        columns.append(h.physical_min[i] + (digital - h.digital_min[i]) * gain)
    return make_record(
        np.column_stack(columns), top, name=path.stem, leads=[h.labels[i] for i in keep],
        units=[h.units[i] for i in keep], notes=notes, source=fname,
    )
