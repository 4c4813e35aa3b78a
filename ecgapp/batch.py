"""Classifying ECG files from the command line: one record, or many in parallel with a summary table.

``load_input`` reads whatever the app reads (a WFDB record, a CSV, an EDF file) or a MIT-BIH record by name;
``classify_input`` runs the app's own path on it (``analysis.analyse``) and writes the beats CSV (and a WFDB
annotation file); ``classify_many`` does that for many inputs in worker processes, each with its own copy
of the model, so that one failing file is reported in its summary row and the others still finish.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .aami import AAMI_CLASSES, is_beat
from .errors import InputError, UnsupportedFormatError
from .exports import safe_record_name, write_wfdb_annotations
from .records import Record
from .uploads import CSV_EXTENSIONS

CSV_SUFFIXES = tuple(f".{e}" for e in sorted(CSV_EXTENSIONS))  # what the app's uploader reads as CSV
FOLDER_SUFFIXES = (".hea", ".csv", ".edf")  # what a folder is searched for (.txt only when named: READMEs)
BEAT_SOURCES = ("auto", "reference", "detect")  # auto: the reference annotations if the record has beats in them


def load_input(spec: str, ann: str = "atr", fs: float | None = None) -> Record:
    """A record from ``spec``: a MIT-BIH record name (``119``), a WFDB record path with or without ``.hea``,
    a CSV (``.csv``/``.txt``; ``fs`` in Hz when it has no time column) or an EDF file."""
    from .csvfile import read_csv
    from .edffile import read_edf
    from .mitdb import MITDB_RECORDS, load_record
    from .wfdbfile import read_wfdb

    path = Path(spec)
    suffix = path.suffix.lower()
    if spec in MITDB_RECORDS and not Path(spec + ".hea").exists():
        return load_record(spec)
    if suffix in CSV_SUFFIXES:
        return read_csv(path, fs=fs)
    if suffix == ".edf":
        return read_edf(path)
    if suffix in (".hea", ".dat"):
        path = path.with_suffix("")
    elif path.is_file() and not Path(spec + ".hea").is_file():
        raise UnsupportedFormatError(f"{spec}: not a WFDB record (.hea + .dat), CSV (.csv, .txt) or EDF (.edf) file")
    elif path.is_dir():
        raise InputError(f"{spec}: is a folder; classify it as one of several inputs (its records are each read)")
    return read_wfdb(path, ann_ext=ann)


def expand_inputs(specs: Iterable[str]) -> list[str]:
    """Every input named: a folder stands for its WFDB records, CSV and EDF files (sorted, not recursive)."""
    out: list[str] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted({str(f.with_suffix("")) if f.suffix == ".hea" else str(f) for f in path.iterdir()
                            if f.is_file() and f.suffix.lower() in FOLDER_SUFFIXES})
            if not found:
                raise InputError(f"{spec}: no WFDB record (.hea), CSV or EDF file in this folder")
            out += found
        else:
            out.append(spec)
    return list(dict.fromkeys(out))  # a record named twice is classified once


def output_names(specs: list[str]) -> list[str]:
    """One distinct, safe file-name stem per input (``a.csv`` and ``a.edf`` -> ``a_csv`` and ``a_edf``)."""
    stems = [safe_record_name(Path(s).stem if Path(s).suffix.lower() in (*CSV_SUFFIXES, ".edf") else Path(s).name)
             for s in specs]
    out = []
    for spec, stem in zip(specs, stems):
        if stems.count(stem) > 1:
            stem = safe_record_name(f"{stem}_{Path(spec).suffix.lstrip('.')}" if Path(spec).suffix else stem)
        while stem in out:
            stem += "_"
        out.append(stem)
    return out


@dataclass(frozen=True)
class Job:
    """One input to classify and where its results go."""

    spec: str
    out_csv: Path
    name: str = "record"  # the record's name in the WFDB annotation file (output_names)
    wfdb_out: Path | None = None
    lead: str | None = None
    beats: str = "auto"
    ann: str = "atr"
    fs: float | None = None


def classify_input(model, job: Job, progress: Callable[[float, str], None] | None = None) -> dict:
    """Read, analyse and write one input; returns its summary row (``SUMMARY_COLUMNS``). Raises InputError
    (or another exception) when it cannot be classified; nothing is written then."""
    from .analysis import analyse

    t0 = time.perf_counter()
    rec = load_input(job.spec, job.ann, job.fs)
    has_beats = rec.annotations is not None and bool(is_beat(rec.annotations.symbol).any())
    if job.beats == "reference" and not has_beats:
        what = "no annotation file" if rec.annotations is None else "no beats in the annotation file"
        raise InputError(f"{job.spec}: {what} '.{job.ann}' to take beat locations from; nothing was written; "
                         f"use --beats detect (or auto)")
    source = "reference" if job.beats == "reference" or (job.beats == "auto" and has_beats) else "detected"
    a = analyse(model, rec, lead=job.lead, source=source, progress=progress)
    tmp = job.out_csv.with_name(job.out_csv.name + ".tmp")
    a.table.to_csv(tmp, index=False)  # written whole, then renamed: a failed run leaves no half file behind
    tmp.replace(job.out_csv)
    wfdb_path = None
    if job.wfdb_out is not None:
        job.wfdb_out.mkdir(parents=True, exist_ok=True)
        wfdb_path = write_wfdb_annotations(a.table, job.name, rec.fs, job.wfdb_out)
    s = a.summary
    return {
        "input": job.spec, "status": "ok", "record": rec.name, "lead": a.lead, "fs_hz": rec.fs,
        "duration_min": round(rec.duration_s / 60, 2), "beat_source": source, "beats": s["beats"],
        **{c: s["counts"][c] for c in AAMI_CLASSES},
        "S_burden_pct": round(s["burden_pct"]["S"], 2), "V_burden_pct": round(s["burden_pct"]["V"], 2),
        "mean_hr_bpm": round(s["heart_rate_bpm"]["mean"], 1), "af_pct": round(s["af_pct"], 1),
        "looks_like_noise": bool(s["looks_like_noise"]), "template_r_median": round(s["template_r_median"], 3),
        "unreadable_beats": s["unreadable_beats"],
        "unreadable_s": round(a.quality.unreadable_s, 1) if a.quality is not None else 0.0,
        "agreement_pct": round(100 * a.agreement.accuracy, 1) if a.agreement is not None else np.nan,
        "skipped_beats": a.beats.skipped, "notes": list(rec.notes), "seconds": round(time.perf_counter() - t0, 2),
        "beats_csv": str(job.out_csv), "wfdb_annotations": str(wfdb_path or ""), "error": "",
    }


SUMMARY_COLUMNS = ["input", "status", "record", "lead", "fs_hz", "duration_min", "beat_source", "beats", "N", "S",
                   "V", "F", "Q", "S_burden_pct", "V_burden_pct", "mean_hr_bpm", "af_pct", "looks_like_noise",
                   "unreadable_beats", "unreadable_s", "agreement_pct", "skipped_beats", "seconds", "beats_csv",
                   "wfdb_annotations", "notes", "error"]


def summary_table(rows: list[dict]):
    """The summary rows as one table (columns SUMMARY_COLUMNS; a failed input's counts left blank)."""
    import pandas as pd

    table = pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)
    table["notes"] = table["notes"].map(lambda v: " | ".join(v) if isinstance(v, list) else "")
    for col in ("beats", *AAMI_CLASSES, "skipped_beats"):  # whole numbers beside a failed row's blanks
        table[col] = table[col].astype("Int64")
    return table


def failed_row(job: Job, exc: BaseException, seconds: float) -> dict:
    """The summary row of an input that could not be classified: what went wrong, in one line."""
    known = isinstance(exc, (InputError, OSError))
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return {"input": job.spec, "status": "failed", "seconds": round(seconds, 2),
            "error": message if known else f"internal error ({type(exc).__name__}: {message[:200]})"}


# ---------------------------------------------------------------- many inputs, in worker processes
_MODEL = None


def _start_worker(weights: str, threads: int) -> None:
    import torch

    from .model import load_model

    global _MODEL
    torch.set_num_threads(threads)
    _MODEL = load_model(weights, device="cpu")[0]


def _run_job(job: Job) -> dict:
    t0 = time.perf_counter()
    try:
        return classify_input(_MODEL, job)
    except Exception as exc:  # one bad file must not stop the others: its row says what went wrong
        if not isinstance(exc, (InputError, OSError)):
            traceback.print_exc()
        return failed_row(job, exc, time.perf_counter() - t0)


def classify_many(jobs: list[Job], weights: str | Path, workers: int | None = None,
                  on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Classify every job, ``workers`` processes at a time (default: the CPU count; 1 = in this process),
    each with one torch thread and its own model; returns the summary rows in the order of ``jobs``."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    rows: dict[int, dict] = {}
    if workers == 1:
        _start_worker(str(weights), max(1, os.cpu_count() or 1))
        for i, job in enumerate(jobs):
            rows[i] = _run_job(job)
            if on_done:
                on_done(rows[i])
    else:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(str(weights), 1)) as pool:
            futures = {pool.submit(_run_job, job): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    rows[i] = future.result()
                except Exception as exc:  # the worker itself died (e.g. out of memory)
                    rows[i] = failed_row(jobs[i], exc, 0.0)
                if on_done:
                    on_done(rows[i])
    return [rows[i] for i in range(len(jobs))]
