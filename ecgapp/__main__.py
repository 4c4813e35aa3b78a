"""Command line.

    python -m ecgapp records                       list the 48 MIT-BIH records (age, sex, medications, split)
    python -m ecgapp info RECORD                   describe a record (MIT-BIH name or WFDB path)
    python -m ecgapp classify RECORD --out beats.csv [--wfdb-out DIR]   label every beat
    python -m ecgapp evaluate                      AAMI table on DS2 for the shipped weights

RECORD is a WFDB record path without extension (any sampling rate, any number of leads), or a MIT-BIH
record name such as 119.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .aami import class_counts, is_beat
from .errors import DataNotFoundError, InputError
from .mitdb import DS1, DS2, MITDB_RECORDS, PACED_RECORDS, list_records, load_record
from .exports import safe_record_name, write_wfdb_annotations
from .quality import looks_like_noise
from .wfdbfile import read_wfdb

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "hybrid"


def _split_of(name: str) -> str:
    if name in PACED_RECORDS:
        return "paced"
    return "DS1 (training)" if name in DS1 else "DS2" if name in DS2 else "-"


def _load(record: str, ann: str | None):
    if record in MITDB_RECORDS and not Path(record + ".hea").exists():
        return load_record(record)
    return read_wfdb(record, ann_ext=ann)


def _model(weights: str):
    from .model import load_model

    path = Path(weights).with_suffix("")
    if not path.with_suffix(".pt").is_file() or not path.with_suffix(".json").is_file():
        raise InputError(f"no trained weights at {path}.pt / {path}.json; train them with train.py")
    try:
        return load_model(path)
    except Exception as exc:  # a truncated .pt, a .json that is not a model card, a state dict of another model
        raise InputError(f"weights at {path}.pt / {path}.json cannot be read ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}); "
                         f"retrain them with train.py or restore them from the repository") from exc


def _check_output_file(out: str) -> Path:
    """``--out``: a file whose folder exists and that is not a folder itself (checked before any work)."""
    path = Path(out)
    if path.is_dir():
        raise InputError(f"--out {out}: is a folder; give a file name such as {path / 'beats.csv'}")
    if not path.parent.is_dir():
        raise InputError(f"--out {out}: folder {path.parent} does not exist")
    return path


def _check_output_folder(out: str) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"--wfdb-out {out}: is a file, not a folder; nothing was written there")
    return path


def cmd_records(_args) -> None:
    for info in list_records():
        print(f"{info.label:<70} {'/'.join(info.leads):<9} {_split_of(info.name)}")


def cmd_info(args) -> None:
    from .beats import extract_beats

    rec = _load(args.record, args.ann)
    print(f"{rec.name}: {rec.n_leads} lead(s) {', '.join(rec.leads)}, {rec.fs:g} Hz, {rec.duration_s:.1f} s")
    for c in rec.comments:
        print(f"  # {c}")
    for note in rec.notes:
        print(f"  note: {note}")
    if rec.annotations is not None:
        beats = extract_beats(rec)
        print(f"  reference beats: {len(beats)} {class_counts(beats.label)}")


def _progress_bar(label: str):
    """A one-line progress bar on stderr when it is a terminal (None otherwise: logs stay clean)."""
    if not sys.stderr.isatty():
        return None

    def show(done: float, what: str) -> None:
        filled = int(round(30 * done))
        end = "\n" if done >= 1.0 else ""
        print(f"\r{label}: [{'#' * filled}{' ' * (30 - filled)}] {100 * done:3.0f}% {what:<20}", end=end,
              file=sys.stderr, flush=True)
    return show


def cmd_classify(args) -> None:
    from .analysis import analyse

    out = _check_output_file(args.out)
    wfdb_out = _check_output_folder(args.wfdb_out) if args.wfdb_out else None
    t0 = time.perf_counter()
    model, _ = _model(args.weights)
    t1 = time.perf_counter()
    rec = _load(args.record, args.ann)
    if args.beats != "detect" and (rec.annotations is None or not is_beat(rec.annotations.symbol).any()):
        what = "no annotation file" if rec.annotations is None else "no beats in the annotation file"
        raise InputError(f"{args.record}: {what} '.{args.ann}' to take beat locations from; nothing was "
                         f"written; use --beats detect")
    a = analyse(model, rec, lead=args.lead, source="detected" if args.beats == "detect" else "reference",
                progress=_progress_bar(rec.name))
    beats, table = a.beats, a.table
    elapsed = time.perf_counter() - t1
    tmp = out.with_name(out.name + ".tmp")
    table.to_csv(tmp, index=False)  # written whole, then renamed: a failed run leaves no half file behind
    tmp.replace(out)
    print(f"{rec.name}: {len(table)} beats on lead {beats.lead} classified in {elapsed:.2f} s "
          f"(model load {t1 - t0:.2f} s) -> {out}")
    print("  predicted: " + ", ".join(f"{c} {n}" for c, n in table["label"].value_counts().items()))
    if (table["reference"] != "").any():
        agree = (table["label"] == table["reference"]).mean()
        print(f"  agreement with the reference labels: {100 * agree:.1f}%")
    if beats.skipped:
        print(f"  {beats.skipped} beat(s) skipped: their window touches missing data")
    for note in rec.notes:
        print(f"  note: {note}")
    r = table["template_r"].to_numpy()
    if looks_like_noise(r):
        print(f"warning: {rec.name}: the beats do not repeat one shape (median correlation with the record's "
              f"dominant beat {np.median(r):.2f}): this looks like noise, not an ECG; its labels mean nothing",
              file=sys.stderr)
    if wfdb_out is not None:
        path = write_wfdb_annotations(table, safe_record_name(Path(args.record).name), rec.fs, wfdb_out)
        print(f"  WFDB annotations -> {path}")


def cmd_evaluate(args) -> None:
    from .evaluation import evaluate_records

    model, card = _model(args.weights)
    names = DS2 if args.records == "DS2" else tuple(args.records.split(","))
    report, _ = evaluate_records(model, names)
    print(f"{card.get('name', args.weights)} on {args.records} ({len(names)} records, reference beats):")
    print(report.table())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgapp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("records", help="list the 48 MIT-BIH records with age, sex, medications, split")
    p = sub.add_parser("info", help="describe a record: a MIT-BIH name (100) or a WFDB path without extension")
    p.add_argument("record")
    p.add_argument("--ann", default="atr", help="annotation file extension (default: atr)")
    p = sub.add_parser("classify", help="classify every beat of a WFDB record")
    p.add_argument("record", help="WFDB record path without extension, or a MIT-BIH name")
    p.add_argument("--out", default="beats.csv", help="CSV with one row per beat (default: beats.csv)")
    p.add_argument("--lead", default=None, help="lead name (default: MLII if present, else the first)")
    p.add_argument("--beats", choices=("reference", "detect"), default="reference")
    p.add_argument("--ann", default="atr", help="annotation extension for --beats reference (default: atr)")
    p.add_argument("--wfdb-out", default=None, help="also write <DIR>/<record>.pred, a WFDB annotation file")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="weights path without extension")
    p = sub.add_parser("evaluate", help="AAMI statistics on DS2 (or --records 100,119) for the shipped weights")
    p.add_argument("--records", default="DS2")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    args = parser.parse_args(argv)
    commands = {"records": cmd_records, "info": cmd_info, "classify": cmd_classify, "evaluate": cmd_evaluate}
    try:
        commands[args.command](args)
    except (InputError, DataNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output, full disk, unreadable input: one line, not a traceback
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
