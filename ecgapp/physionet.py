"""Where PhysioNet databases live on disk, and downloading them on first use.

Lookup order for a database ``db`` (``"mitdb"`` or ``"nstdb"``):

1. ``$ECGAPP_DATA_DIR/<db>`` when the environment variable ``ECGAPP_DATA_DIR`` is set. That folder is
   then also where missing records are downloaded to.
2. ``<project>/../shared/data/<db>`` when it exists (the team's read-only copy; never written to).
3. ``<project>/data_cache/<db>``: a cache filled from PhysioNet with ``wfdb`` on first use.

Set ``ECGAPP_OFFLINE=1`` to forbid downloads (the error then says where we looked).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import DataNotFoundError

DATA_DIR_ENV = "ECGAPP_DATA_DIR"
OFFLINE_ENV = "ECGAPP_OFFLINE"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
CACHE_DIR = PROJECT_ROOT / "data_cache"
PHYSIONET_URL = "https://physionet.org/content/{db}/1.0.0/"


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def candidate_dirs(db: str) -> tuple[list[Path], Path]:
    """Folders searched for database ``db``, in order, and the folder downloads go to."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        target = Path(env).expanduser() / db
        return [target], target
    dirs = []
    if SHARED_DATA_DIR.is_dir():
        dirs.append(SHARED_DATA_DIR / db)
    dirs.append(CACHE_DIR / db)
    return dirs, CACHE_DIR / db


def _has_all(folder: Path, name: str, extensions: tuple[str, ...]) -> bool:
    return all((folder / f"{name}.{ext}").is_file() for ext in extensions)


def _download(db: str, name: str, extensions: tuple[str, ...], target: Path) -> None:
    """Fetch one record's files from PhysioNet into ``target`` atomically (no half-written files)."""
    import wfdb  # imported lazily: wfdb pulls in requests/aiohttp

    annotators = [e for e in extensions if e not in ("hea", "dat")] or None
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{db}-{name}-", dir=target) as tmp:
        wfdb.dl_database(db, tmp, records=[name], annotators=annotators)
        for ext in extensions:
            src = Path(tmp) / f"{name}.{ext}"
            if not src.is_file():
                raise FileNotFoundError(f"PhysioNet sent no {name}.{ext}")
        for ext in extensions:
            os.replace(Path(tmp) / f"{name}.{ext}", target / f"{name}.{ext}")


def locate_record(db: str, name: str, extensions: tuple[str, ...] = ("hea", "dat", "atr")) -> Path:
    """Path (without extension) of record ``name`` of PhysioNet database ``db``, downloading if needed.

    Raises DataNotFoundError naming every folder searched and how to fix it.
    """
    dirs, target = candidate_dirs(db)
    for folder in dirs:
        if _has_all(folder, name, extensions):
            return folder / name
    files = ", ".join(f"{name}.{e}" for e in extensions)
    looked = "; ".join(str(d) + ("" if d.is_dir() else " (missing)") for d in dirs)
    if _offline():
        why = f"downloads are disabled ({OFFLINE_ENV} is set)"
    else:
        try:
            _download(db, name, extensions, target)
            return target / name
        except Exception as exc:  # network, DNS, HTTP 404, disk full ...
            why = f"downloading from PhysioNet into {target} failed: {type(exc).__name__}: {exc}"
    raise DataNotFoundError(
        f"{db} record {name!r} not found: needed {files}. Looked in: {looked}; {why}. "
        f"Fix: set {DATA_DIR_ENV} to a folder that contains {db}/ with these files "
        f"(from {PHYSIONET_URL.format(db=db)}), or connect to the internet so that they are downloaded "
        f"into {target}."
    )

