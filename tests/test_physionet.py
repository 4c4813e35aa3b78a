"""Finding PhysioNet data: the env setting, the shared folder, the download cache, and the error without data."""

from __future__ import annotations

import shutil

import pytest

from ecgapp import physionet
from ecgapp.errors import DataNotFoundError
from ecgapp.mitdb import load_record
from tests.conftest import MITDB_DIR


def test_env_setting_is_used_and_named_in_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGAPP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ECGAPP_OFFLINE", "1")
    with pytest.raises(DataNotFoundError) as err:
        load_record("100")
    msg = str(err.value)
    assert str(tmp_path / "mitdb") in msg  # where it looked
    assert "100.hea" in msg and "100.dat" in msg and "100.atr" in msg  # what it needed
    assert "ECGAPP_DATA_DIR" in msg and "physionet.org" in msg  # how to fix it
    assert "downloads are disabled" in msg


def test_env_folder_with_data_loads(tmp_path, monkeypatch):
    (tmp_path / "mitdb").mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copyfile(MITDB_DIR / f"101.{ext}", tmp_path / "mitdb" / f"101.{ext}")
    monkeypatch.setenv("ECGAPP_DATA_DIR", str(tmp_path))
    assert load_record("101").name == "101"


def test_default_uses_shared_data_when_present(monkeypatch):
    monkeypatch.delenv("ECGAPP_DATA_DIR", raising=False)
    dirs, target = physionet.candidate_dirs("mitdb")
    assert dirs[0] == physionet.SHARED_DATA_DIR / "mitdb"
    assert target == physionet.CACHE_DIR / "mitdb"  # downloads never go into the shared folder


def test_failed_download_says_why_and_leaves_no_files(tmp_path, monkeypatch):
    import wfdb

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'physionet.org'")

    monkeypatch.setenv("ECGAPP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ECGAPP_OFFLINE", raising=False)
    monkeypatch.setattr(wfdb, "dl_database", offline)
    with pytest.raises(DataNotFoundError, match="downloading from PhysioNet into .* failed: ConnectionError"):
        load_record("100")
    assert list((tmp_path / "mitdb").iterdir()) == []  # no half-written files left behind


def test_download_fills_cache_once(tmp_path, monkeypatch):
    """First use downloads into the cache (a stand-in for PhysioNet copies the files); later uses read it."""
    import wfdb

    calls = []

    def fake_dl_database(db, dl_dir, records, annotators):
        calls.append((db, tuple(records), tuple(annotators or ())))
        for ext in ["hea", "dat", *(annotators or [])]:
            shutil.copyfile(MITDB_DIR / f"{records[0]}.{ext}", f"{dl_dir}/{records[0]}.{ext}")

    monkeypatch.setenv("ECGAPP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ECGAPP_OFFLINE", raising=False)
    monkeypatch.setattr(wfdb, "dl_database", fake_dl_database)
    first = load_record("100")
    second = load_record("100")
    assert calls == [("mitdb", ("100",), ("atr",))]
    assert len(first.annotations) == len(second.annotations) == 2274
    assert sorted(p.name for p in (tmp_path / "mitdb").iterdir()) == ["100.atr", "100.dat", "100.hea"]
