"""Results as files: the beats table as CSV and the predictions as a WFDB annotation file.

Used by ``python -m ecgapp classify`` and the app's download buttons.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd

PREDICTION_EXTENSION = "pred"
ANNOTATION_TEMP_PREFIX = "ecgapp-ann-"  # temporary folders the download files are built in


def safe_record_name(name: str) -> str:
    """A record name WFDB accepts and that is safe as a file name: letters, digits, ``_`` and ``-`` only."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_-")
    return clean[:60] or "record"


def write_wfdb_annotations(table: pd.DataFrame, record_name: str, fs: float, out_dir: Path,
                           extension: str = PREDICTION_EXTENSION) -> Path:
    """Predictions as a WFDB annotation file ``<out_dir>/<record_name>.<extension>`` (wfdb.rdann reads it).

    ``table`` holds ``sample`` (indices at ``fs`` Hz), ``label`` and ``confidence``. Symbols are the AAMI
    letters, which are MIT-BIH codes of the same class (N normal, S supraventricular premature, V
    ventricular premature, F fusion, Q unclassifiable); aux_note holds the confidence, and after a review
    (a ``label_by`` column, ``review.reviewed``) who gave the label: ``reader`` for the reader's labels,
    ``adapted p=0.912`` for those an adapted model changed, ``p=0.987`` for the shipped model's, ``unreadable``
    for the Q beats of unreadable stretches (``analysis.mark_unreadable``).
    """
    import wfdb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by = table["label_by"] if "label_by" in table else ["model"] * len(table)
    unreadable = table["unreadable"] if "unreadable" in table else [False] * len(table)
    notes = ["reader" if b == "reader" else "unreadable" if u else f"{'adapted ' if b == 'adapted' else ''}p={c:.3f}"
             for b, u, c in zip(by, unreadable, table["confidence"])]
    wfdb.wrann(record_name, extension, table["sample"].to_numpy(), symbol=table["label"].tolist(),
               aux_note=notes, fs=fs, write_dir=str(out_dir))
    return out_dir / f"{record_name}.{extension}"


def wfdb_annotation_bytes(table: pd.DataFrame, record_name: str, fs: float) -> tuple[str, bytes]:
    """(file name, contents) of the WFDB prediction annotation file, built in a temporary folder."""
    name = safe_record_name(record_name)
    with tempfile.TemporaryDirectory(prefix=ANNOTATION_TEMP_PREFIX) as tmp:
        path = write_wfdb_annotations(table, name, fs, Path(tmp))
        return path.name, path.read_bytes()


def beats_csv_bytes(table: pd.DataFrame) -> bytes:
    """The beats table as UTF-8 CSV (columns of ``inference.beats_table``; after a review also ``model_label``
    and ``label_by``)."""
    return table.to_csv(index=False).encode("utf-8")


def events_csv_bytes(events: pd.DataFrame) -> bytes:
    """The rhythm report's events (``holter.rhythm_report``) as UTF-8 CSV, one row per event."""
    return events.to_csv(index=False).encode("utf-8")
