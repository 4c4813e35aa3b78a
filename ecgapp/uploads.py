"""Turn uploaded files (name + bytes) into a Record, safely.

Uploaded bytes are written under sanitised names into a fresh temporary folder that is deleted after
reading, so a hostile name (``../../x.hea``), a header that points at other files, or a multi-segment
header can neither read nor write anything outside that folder. Supported: a WFDB record (``.hea`` +
``.dat`` [+ one annotation file such as ``.atr``]), one CSV (``.csv``/``.txt``), or one EDF (``.edf``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .errors import InputError, UnsupportedFormatError
from .exports import ANNOTATION_TEMP_PREFIX
from .csvfile import read_csv
from .edffile import read_edf
from .wfdbfile import header_data_files, read_wfdb
from .records import Record

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # 24 h of 2-lead 360 Hz format-212 data is ~93 MB
MAX_NAME_LENGTH = 100
CSV_EXTENSIONS = {"csv", "txt"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
UPLOAD_PREFIX = "ecgapp-upload-"  # each upload is read in a fresh $TMPDIR/ecgapp-upload-* folder
TEMP_PREFIXES = (UPLOAD_PREFIX, ANNOTATION_TEMP_PREFIX)  # ... and annotation downloads in ecgapp-ann-*
STALE_AFTER_S = 600.0  # reading even a 200 MB upload takes well under a minute


def remove_stale_uploads(max_age_s: float = STALE_AFTER_S, folder: str | Path | None = None) -> list[str]:
    """Delete ecgapp's temporary folders older than ``max_age_s`` seconds (default 10 min) in ``folder``
    (default: the system temporary folder); returns their names.

    A folder is normally removed as soon as its upload is read; one is left behind only when the process
    was killed while reading (e.g. by the out-of-memory killer). Run at server start-up.
    """
    root = Path(folder if folder is not None else tempfile.gettempdir())
    removed = []
    now = time.time()
    for path in root.iterdir() if root.is_dir() else ():
        try:
            if (path.name.startswith(TEMP_PREFIXES) and path.is_dir() and not path.is_symlink()
                    and now - path.stat().st_mtime > max_age_s):
                shutil.rmtree(path)
                removed.append(path.name)
        except OSError:  # another process removed it first, or it is not ours to remove
            continue
    return removed


def sanitize_filename(name: str) -> str:
    """A safe bare file name: folders dropped, odd characters replaced by ``_``, no leading dot.

    ``../../x.hea`` -> ``x.hea``; ``C:\\\\ecg\\\\a b.csv`` -> ``a_b.csv``. Raises InputError if nothing is left.
    """
    base = str(name).replace("\x00", "").replace("\\", "/").split("/")[-1].strip()
    base = _UNSAFE.sub("_", base).lstrip(".")
    if len(base) > MAX_NAME_LENGTH:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME_LENGTH - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else base[:MAX_NAME_LENGTH]
    if not base or base in {".", ".."} or not base.strip("._-"):
        raise InputError(f"upload: file name {name!r} has no usable characters")
    return base


def _ext(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def _size(n: int) -> str:
    """Bytes in words: ``900 bytes``, ``2.0 kB``, ``93.6 MB``."""
    if n < 1024:
        return f"{n} bytes"
    if n < 2**20:
        return f"{n / 1024:.1f} kB"
    return f"{n / 2**20:.1f} MB"


def _as_bytes(name: str, data) -> bytes:
    """The contents of an upload as bytes: bytes-like, or a file object (Streamlit's UploadedFile)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    for method in ("getvalue", "read"):
        if callable(getattr(data, method, None)):
            value = getattr(data, method)()
            if isinstance(value, (bytes, bytearray, memoryview)):
                return bytes(value)
    raise InputError(f"upload: {name}: contents must be bytes, got {type(data).__name__}")


def load_upload(files, fs: float | None = None, max_bytes: int = MAX_UPLOAD_BYTES) -> Record:
    """Read uploaded files into a Record.

    ``files``: iterable of (file name, bytes) pairs, e.g. from Streamlit's uploader. ``fs``: sampling
    rate in Hz for a CSV without a time column. Raises InputError (or UnsupportedFormatError) with a
    message naming the file and the problem.
    """
    files = [(str(n), _as_bytes(str(n), b)) for n, b in files]
    if not files:
        raise InputError("upload: no files were given")
    total = sum(len(b) for _, b in files)
    if total > max_bytes:
        what = (f"{files[0][0]} is {_size(total)}" if len(files) == 1 else
                f"{', '.join(n for n, _ in files)} are {_size(total)} in all")
        raise InputError(f"upload: {what}, over the upload limit of {_size(max_bytes)}")
    named: dict[str, bytes] = {}
    raw_names: dict[str, str] = {}
    for raw_name, data in files:
        safe = sanitize_filename(raw_name)
        if safe in named:
            first = raw_names[safe]
            how = f" (uploaded as {first!r} and {raw_name!r})" if first != safe or raw_name != safe else ""
            raise InputError(f"upload: two files are both called {safe!r}{how}; upload one record at a time")
        named[safe] = data
        raw_names[safe] = raw_name
    by_ext: dict[str, list[str]] = {}
    for n in named:
        by_ext.setdefault(_ext(n), []).append(n)

    with tempfile.TemporaryDirectory(prefix=UPLOAD_PREFIX) as tmp:
        folder = Path(tmp)
        for n, data in named.items():
            with open(folder / n, "xb") as fh:  # "x": never overwrite, even inside our own folder
                fh.write(data)
        if "hea" in by_ext:
            return _load_wfdb_upload(folder, by_ext)
        if len(named) == 1:
            (n,) = named
            if _ext(n) in CSV_EXTENSIONS:
                return read_csv(folder / n, fs=fs)
            if _ext(n) == "edf":
                return read_edf(folder / n)
        if "dat" in by_ext:
            raise InputError(f"upload: {by_ext['dat'][0]} needs its WFDB header (.hea) uploaded with it")
        kinds = ", ".join(sorted(named))
        if len(named) > 1 and set(by_ext) <= CSV_EXTENSIONS | {"edf"}:
            raise InputError(f"upload: one CSV or EDF file at a time, got {kinds}; remove the files you do not "
                             f"want from the uploader (the x beside each name)")
        raise UnsupportedFormatError(
            f"upload: unsupported file type ({kinds}); upload a WFDB record (.hea + .dat, optional "
            f"annotation file such as .atr), a CSV (.csv) or an EDF (.edf) file"
        )


def _load_wfdb_upload(folder: Path, by_ext: dict[str, list[str]]) -> Record:
    headers = by_ext["hea"]
    if len(headers) > 1:
        raise InputError(f"upload: one WFDB record at a time, got headers {', '.join(sorted(headers))}; remove "
                         f"the files of the other records from the uploader (the x beside each name)")
    header = folder / headers[0]
    record = header.name[: -len(".hea")]
    if not header.name.endswith(".hea"):  # "100.HEA": wfdb looks for "100.hea"
        header = header.rename(folder / f"{record}.hea")
    _, data_files = header_data_files(header)
    for f in data_files:
        if not (folder / f).is_file():
            same = [p for p in folder.iterdir() if p.name.lower() == f.lower() and p != header]
            if len(same) == 1:  # "100.DAT" uploaded for "100.dat" (case-insensitive file systems)
                same[0].rename(folder / f)
                continue
            uploaded = ", ".join(sorted(p.name for p in folder.iterdir() if p.name != header.name)) or "none"
            raise InputError(
                f"{header.name} refers to data file {f!r}, which was not uploaded (uploaded: {uploaded})"
            )
    # any other file is taken as an annotation file of this record; 'atr' (reference) first
    data_names = {f.lower() for f in data_files}
    others = sorted(n for e, names in by_ext.items() for n in names if e not in ("hea", "dat")
                    and n.lower() not in data_names)
    ann_ext = None
    if others:
        pick = next((n for n in others if _ext(n) == "atr"), others[0])
        ann_ext = _ext(pick) or "ann"
        target = folder / f"{record}.{ann_ext}"
        if target.name != pick:
            if target.exists():
                raise InputError(f"upload: cannot use {pick} as annotations: {target.name} is also uploaded")
            (folder / pick).rename(target)
    rec = read_wfdb(folder / record, ann_ext=ann_ext)
    unused = [n for n in others if n != pick]
    if unused:  # say so rather than silently drop a second annotation file
        note = f"annotation file(s) not used: {', '.join(unused)} (reference beats taken from {pick})"
        rec = replace(rec, notes=rec.notes + (note,))
    return rec


def newest_upload(files) -> tuple[list, list[str]]:
    """The files of the most recent upload, and the names of earlier ones left out: an uploader that keeps every
    file it was given would otherwise pile a new record onto the last one. ``files``: (name, data) pairs in
    upload order (Streamlit's order). A record is one CSV, one EDF, or the WFDB files sharing a name stem
    (``100.hea``, ``100.dat``, ``100.atr``); the record of the last file wins. When that record is a WFDB data
    or annotation file without its header, nothing is left out (``load_upload`` then says what is missing)."""
    files = list(files)
    if len(files) <= 1:
        return files, []

    def key(name: str) -> str:
        name = sanitize_filename(str(name))
        ext = _ext(name)
        if ext in CSV_EXTENSIONS or ext == "edf":
            return "single:" + name
        return "wfdb:" + (name[: -len(ext) - 1] if ext else name).lower()
    last = key(files[-1][0])
    kept = [f for f in files if key(f[0]) == last]
    if last.startswith("wfdb:") and not any(_ext(sanitize_filename(str(n))) == "hea" for n, _ in kept):
        return files, []
    return kept, [str(n) for n, _ in files if key(n) != last]
