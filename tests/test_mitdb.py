"""The MIT-BIH Arrhythmia Database on real records: all 48 load, splits and AAMI counts match the literature."""

from __future__ import annotations

import numpy as np
import pytest

from ecgapp import mitdb
from ecgapp.aami import AAMI_CLASSES, aami_index, class_counts
from ecgapp.errors import InputError


@pytest.fixture(scope="module")
def all_records():
    return {name: mitdb.load_record(name) for name in mitdb.MITDB_RECORDS}


def test_all_48_records_load(all_records):
    assert len(all_records) == 48
    for name, rec in all_records.items():
        assert rec.fs == 360 and rec.signal.shape == (650000, 2), name
        assert rec.signal.dtype == np.float32 and rec.units == ("mV", "mV")
        assert np.isfinite(rec.signal).all(), name
        assert 0.1 < np.percentile(np.ptp(rec.signal[:3600], axis=0), 50) < 10  # mV, not ADC units
        assert rec.annotations is not None and len(rec.annotations) > 1000
        assert rec.notes == ()


def test_record_100_has_2273_beats(all_records):
    ann = all_records["100"].annotations
    beats = aami_index(ann.symbol) >= 0
    assert beats.sum() == 2273
    assert class_counts(aami_index(ann.symbol)) == {"N": 2239, "S": 33, "V": 1, "F": 0, "Q": 0}
    assert all_records["100"].leads == ("MLII", "V5")
    assert all_records["114"].leads == ("V5", "MLII") and all_records["114"].default_lead == "MLII"
    assert all_records["102"].default_lead == "V5"  # no MLII: first lead


def _split_counts(all_records, names):
    total = np.zeros(len(AAMI_CLASSES), dtype=int)
    for name in names:
        total += list(class_counts(aami_index(all_records[name].annotations.symbol)).values())
    return dict(zip(AAMI_CLASSES, total.tolist()))


def test_aami_counts_match_de_chazal(all_records):
    """de Chazal et al. 2004, Table I; paced records are in neither set."""
    assert _split_counts(all_records, mitdb.DS1) == {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8}
    assert _split_counts(all_records, mitdb.DS2) == {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7}


def test_all_beat_symbols_counted(all_records):
    """The data README's wfdb count: 109,494 beats once the 472 flutter waves (!) are left out."""
    total = sum(int((aami_index(r.annotations.symbol) >= 0).sum()) for r in all_records.values())
    assert total == 109494


def test_splits_are_disjoint_and_complete():
    ds1, ds2, paced = set(mitdb.DS1), set(mitdb.DS2), set(mitdb.PACED_RECORDS)
    assert len(ds1) == len(ds2) == 22 and len(paced) == 4
    assert ds1 | ds2 | paced == set(mitdb.MITDB_RECORDS) and not (ds1 & ds2) and not (paced & (ds1 | ds2))
    assert set(mitdb.VALIDATION) < ds1 and set(mitdb.TRAIN) == ds1 - set(mitdb.VALIDATION)


def test_validation_holds_every_ectopic_class(all_records):
    counts = _split_counts(all_records, mitdb.VALIDATION)
    assert counts["S"] == 263 and counts["V"] == 1009 and counts["F"] == 14
    train = _split_counts(all_records, mitdb.TRAIN)
    assert train["S"] == 944 - 263 and train["V"] == 3788 - 1009


def test_header_facts():
    info = mitdb.record_info("100")
    assert (info.age, info.sex, info.medications) == (69, "M", "Aldomet, Inderal")
    assert info.label == "100 - 69 y M - Aldomet, Inderal (test patient, DS2)"
    assert mitdb.record_info("103").age is None  # '?' in the header
    infos = mitdb.list_records()
    assert [i.name for i in infos] == list(mitdb.MITDB_RECORDS)
    assert all(i.sex in ("M", "F") for i in infos)
    assert sum(i.sex == "F" for i in infos) == 22  # 25 men and 22 women; 201/202 are one man
    assert any("paced" in " ".join(i.comments).lower() for i in infos if i.name == "102")


def test_unknown_record_name_is_refused():
    with pytest.raises(InputError, match="not a MIT-BIH Arrhythmia Database record"):
        mitdb.load_record("../../etc/passwd")
    with pytest.raises(InputError, match="'999'"):
        mitdb.load_record(999)


def test_nstdb_noise_and_test_records():
    em = mitdb.load_nstdb("em")
    assert em.fs == 360 and em.signal.shape == (650000, 2) and em.annotations is None
    noisy = mitdb.load_nstdb("119e06")
    assert class_counts(aami_index(noisy.annotations.symbol)) == {"N": 1543, "S": 0, "V": 444, "F": 0, "Q": 0}
    with pytest.raises(InputError, match="not an nstdb record"):
        mitdb.load_nstdb("100")
