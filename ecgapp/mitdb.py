"""The MIT-BIH Arrhythmia Database (mitdb) and Noise Stress Test Database (nstdb): names, splits, loading.

Inter-patient paradigm (de Chazal, O'Dwyer & Reilly, IEEE TBME 51(7), 2004): train on DS1, test on DS2.
The paced records 102, 104, 107 and 217 are in neither set (AAMI EC57 excludes them from statistics).
Records 201 and 202 come from the same patient and sit in DS1 and DS2 respectively; that is the standard
split and it is kept as published.

Model selection is by patient-grouped cross-validation inside DS1 (``crossval.ds1_folds``) and the shipped
model trains on all of DS1. VALIDATION/TRAIN are the earlier fixed split, kept for reference: the four DS1
records 106, 118, 220 and 223, once held out for checkpoint selection, proved a noisy guide. They were picked from DS1's per-record AAMI counts alone (never from DS2 results) so that
validation holds each of N, S, V and F in useful numbers: 263 of DS1's 944 S beats (28 %), 1009 of its 3788
V beats (27 %), 14 F beats, in 4 of 22 records; record 209, with 40 % of DS1's S beats, stays in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import InputError
from .physionet import locate_record
from .wfdbfile import read_wfdb
from .records import Record

MITDB_RECORDS: tuple[str, ...] = tuple(str(r) for r in (
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 111, 112, 113, 114, 115, 116, 117, 118, 119,
    121, 122, 123, 124, 200, 201, 202, 203, 205, 207, 208, 209, 210, 212, 213, 214, 215, 217, 219,
    220, 221, 222, 223, 228, 230, 231, 232, 233, 234,
))
PACED_RECORDS: tuple[str, ...] = ("102", "104", "107", "217")
DS1: tuple[str, ...] = tuple(str(r) for r in (
    101, 106, 108, 109, 112, 114, 115, 116, 118, 119, 122, 124, 201, 203, 205, 207, 208, 209, 215,
    220, 223, 230,
))
DS2: tuple[str, ...] = tuple(str(r) for r in (
    100, 103, 105, 111, 113, 117, 121, 123, 200, 202, 210, 212, 213, 214, 219, 221, 222, 228, 231,
    232, 233, 234,
))
ROLES = {"training": "training patient, DS1", "test": "test patient, DS2", "paced": "paced, not in AAMI statistics"}
VALIDATION: tuple[str, ...] = ("106", "118", "220", "223")
TRAIN: tuple[str, ...] = tuple(r for r in DS1 if r not in VALIDATION)

NSTDB_NOISE: tuple[str, ...] = ("bw", "em", "ma")
NSTDB_TEST: tuple[str, ...] = tuple(f"{r}e{snr}" for r in (118, 119) for snr in ("24", "18", "12", "06", "00", "_6"))


@dataclass(frozen=True)
class RecordInfo:
    """Facts from a mitdb header: age in years (None if unknown), sex 'M'/'F' (None if unknown),
    medications as written, the remaining clinical comments, and the lead names."""

    name: str
    age: int | None
    sex: str | None
    medications: str
    comments: tuple[str, ...]
    leads: tuple[str, ...]

    @property
    def role(self) -> str:
        """What the shipped model made of this record: ``training``, ``test`` or ``paced`` (see record_role)."""
        return record_role(self.name)

    @property
    def label(self) -> str:
        """One line for a picker: ``100 - 69 y M - Aldomet, Inderal (test patient, DS2)``."""
        age = f"{self.age} y" if self.age is not None else "age ?"
        return (f"{self.name} - {age} {self.sex or '?'} - {self.medications or 'no medications listed'} "
                f"({ROLES[self.role]})")


def record_role(name: str | int) -> str:
    """``training`` (DS1: the shipped model learnt from it, so its labels flatter the model), ``test`` (DS2:
    never used to train or choose anything) or ``paced`` (102, 104, 107, 217: left out of both, as AAMI does;
    the model has not learnt paced beats)."""
    name = _check_name(name)
    return "paced" if name in PACED_RECORDS else "training" if name in DS1 else "test"


def _check_name(name: str | int) -> str:
    name = str(name).strip()
    if name not in MITDB_RECORDS:
        raise InputError(f"{name!r} is not a MIT-BIH Arrhythmia Database record (there are 48: 100 to 234)")
    return name


def parse_header_comments(comments) -> tuple[int | None, str | None, str, tuple[str, ...]]:
    """(age, sex, medications, rest) from mitdb comment lines like ``69 M 1085 1629 x1`` / ``Aldomet``."""
    comments = [c.strip() for c in comments]
    age = sex = None
    if comments:
        fields = comments[0].split()
        if fields and fields[0].isdigit():
            age = int(fields[0])
        if len(fields) > 1 and fields[1] in ("M", "F"):
            sex = fields[1]
    meds = comments[1] if len(comments) > 1 else ""
    meds = "" if meds.strip(" ?") == "" or meds.lower() == "none" else meds
    return age, sex, meds, tuple(comments[2:])


@lru_cache(maxsize=None)
def record_info(name: str | int) -> RecordInfo:
    """Header facts of one mitdb record (reads only its .hea; downloads it if needed)."""
    import wfdb

    name = _check_name(name)
    header = wfdb.rdheader(str(locate_record("mitdb", name, ("hea",))))
    age, sex, meds, rest = parse_header_comments(header.comments or ())
    return RecordInfo(name, age, sex, meds, rest, tuple(header.sig_name))


def list_records() -> list[RecordInfo]:
    """All 48 mitdb records with their header facts, in numeric order."""
    return [record_info(n) for n in MITDB_RECORDS]


def load_record(name: str | int, annotations: bool = True) -> Record:
    """Load a mitdb record by name (``"100"``) with its reference ``atr`` annotations."""
    name = _check_name(name)
    exts = ("hea", "dat", "atr") if annotations else ("hea", "dat")
    return read_wfdb(locate_record("mitdb", name, exts), ann_ext="atr" if annotations else None)


def load_nstdb(name: str) -> Record:
    """Load an nstdb record: a noise record (``bw``, ``em``, ``ma``) or a noisy test record (``118e06``)."""
    if name in NSTDB_NOISE:
        return read_wfdb(locate_record("nstdb", name, ("hea", "dat")))
    if name in NSTDB_TEST:
        return read_wfdb(locate_record("nstdb", name, ("hea", "dat", "atr")), ann_ext="atr")
    raise InputError(f"{name!r} is not an nstdb record (noise: {', '.join(NSTDB_NOISE)}; "
                     f"test: {', '.join(NSTDB_TEST)})")


AF_RHYTHMS = ("(AFIB", "(AFL")  # reference rhythm labels of atrial fibrillation and flutter


def beat_rhythms(name: str | int) -> np.ndarray:
    """The reference rhythm label (``"(N"``, ``"(AFIB"``, ...; "" before the first) of every beat of a mitdb
    record, aligned with the beats of ``beats.extract_beats(load_record(name))``."""
    import wfdb

    from .aami import is_beat

    name = _check_name(name)
    ann = wfdb.rdann(str(locate_record("mitdb", name, ("hea", "dat", "atr"))), "atr")
    rhythm, current = [], ""
    for symbol, aux in zip(ann.symbol, ann.aux_note):
        if symbol == "+":
            current = aux.strip("\x00").strip()
        rhythm.append(current)
    return np.array(rhythm, dtype=str)[is_beat(np.array(ann.symbol))]
