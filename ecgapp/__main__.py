"""Command line.

    python -m ecgapp records                       list the 48 MIT-BIH records (age, sex, medications, split)
    python -m ecgapp info RECORD                   describe a record (MIT-BIH name or WFDB path)
    python -m ecgapp classify RECORD --out beats.csv [--wfdb-out DIR]   label every beat of one record
    python -m ecgapp classify DIR_OR_FILES... --out FOLDER [--workers N]  many records, one CSV each + summary.csv
    python -m ecgapp evaluate                      AAMI table on DS2 for the shipped weights

RECORD is a WFDB record path without extension (any sampling rate, any number of leads), a CSV (with --fs
when it has no time column), an EDF file, or a MIT-BIH record name such as 119.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .aami import AAMI_CLASSES, class_counts
from .errors import DataNotFoundError, InputError
from .mitdb import DS1, DS2, PACED_RECORDS, list_records

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "hybrid"


def _split_of(name: str) -> str:
    if name in PACED_RECORDS:
        return "paced"
    return "DS1 (training)" if name in DS1 else "DS2" if name in DS2 else "-"


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

    from .batch import load_input

    rec = load_input(args.record, args.ann, args.fs)
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


def _check_batch_folder(out: str) -> Path:
    """``--out`` with several inputs: a folder (made if missing) for one beats CSV per record and summary.csv."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {out}: is a file; with several inputs --out names a folder (default: beats)")
    if path.suffix.lower() == ".csv":
        raise InputError(f"--out {out}: with several inputs --out names a folder for one CSV per record, "
                         f"not a CSV file")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cmd_classify(args) -> int:
    from .batch import Job, classify_input, classify_many, expand_inputs, output_names, summary_table

    specs = expand_inputs(args.records)
    names = output_names(specs)
    wfdb_out = _check_output_folder(args.wfdb_out) if args.wfdb_out else None
    if len(specs) == 1 and not Path(args.records[0]).is_dir():
        out = _check_output_file(args.out or "beats.csv")
        t0 = time.perf_counter()
        model, _ = _model(args.weights)
        t1 = time.perf_counter()
        job = Job(specs[0], out, names[0], wfdb_out, args.lead, args.beats, args.ann, args.fs)
        row = classify_input(model, job, progress=_progress_bar(Path(specs[0]).name))
        print(f"{row['record']}: {row['beats']} beats on lead {row['lead']} ({row['beat_source']}) classified in "
              f"{time.perf_counter() - t1:.2f} s (model load {t1 - t0:.2f} s) -> {out}")
        print("  predicted: " + ", ".join(f"{c} {row[c]}" for c in AAMI_CLASSES if row[c]))
        if np.isfinite(row["agreement_pct"]):
            print(f"  agreement with the reference labels: {row['agreement_pct']:.1f}%")
        if row["skipped_beats"]:
            print(f"  {row['skipped_beats']} beat(s) skipped: their window touches missing data")
        if row["unreadable_beats"]:
            print(f"  {row['unreadable_s']:g} s look unreadable (noise): their {row['unreadable_beats']} beat(s) are "
                  f"labelled Q (column 'unreadable'; 'network_label' keeps the network's) and left out of heart rate "
                  f"and burden")
        for note in row["notes"]:
            print(f"  note: {note}")
        if row["looks_like_noise"]:
            print(f"warning: {row['record']}: the beats do not repeat one shape (median correlation with the "
                  f"record's dominant beat {row['template_r_median']:.2f}): this looks like noise, not an ECG; its "
                  f"labels mean nothing", file=sys.stderr)
        if row["wfdb_annotations"]:
            print(f"  WFDB annotations -> {row['wfdb_annotations']}")
        return 0

    out_dir = _check_batch_folder(args.out or "beats")
    weights = Path(args.weights).with_suffix("")
    _model(args.weights)  # weights that cannot be read stop the run before any worker starts
    jobs = [Job(spec, out_dir / f"{name}_beats.csv", name, wfdb_out, args.lead, args.beats, args.ann, args.fs)
            for spec, name in zip(specs, names)]
    done = [0]

    def show(row: dict) -> None:
        done[0] += 1
        what = (f"{row['beats']} beats, S {row['S']}, V {row['V']}" if row["status"] == "ok" else
                f"FAILED: {row['error']}")
        print(f"[{done[0]}/{len(jobs)}] {row['input']}: {what} ({row['seconds']:.1f} s)", flush=True)

    t0 = time.perf_counter()
    rows = classify_many(jobs, weights, args.workers, on_done=show)
    table = summary_table(rows)
    summary = out_dir / "summary.csv"
    tmp = summary.with_name(summary.name + ".tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(summary)
    failed = int((table["status"] != "ok").sum())
    print(f"{len(jobs) - failed} of {len(jobs)} records classified in {time.perf_counter() - t0:.1f} s "
          f"-> {out_dir}/ (one <record>_beats.csv each, summary.csv)")
    for row in rows:
        if row["status"] != "ok":
            print(f"error: {row['input']}: {row['error']}", file=sys.stderr)
    return 0 if failed == 0 else 2 if failed == len(jobs) else 1


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
    p = sub.add_parser("info", help="describe a record: a MIT-BIH name (100), a WFDB path, a CSV or an EDF file")
    p.add_argument("record")
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz of a CSV without a time column")
    p.add_argument("--ann", default="atr", help="annotation file extension (default: atr)")
    p = sub.add_parser("classify", help="classify every beat of one record, or of many in parallel")
    p.add_argument("records", nargs="+", metavar="RECORD",
                   help="a WFDB record path (without extension, or its .hea), a CSV (.csv, .txt), an EDF file "
                        "(.edf), a MIT-BIH name (119), or a folder of them; several or a folder: one CSV each")
    p.add_argument("--out", default=None, help="one record: the beats CSV (default: beats.csv); several: a folder "
                                               "(default: beats) for <record>_beats.csv files and summary.csv")
    p.add_argument("--fs", type=float, default=None, help="sampling rate in Hz of a CSV without a time column")
    p.add_argument("--lead", default=None, help="lead name (default: MLII if present, else lead II under another "
                                                 "name such as II or Lead II, else the first)")
    p.add_argument("--beats", choices=("auto", "reference", "detect"), default="auto",
                   help="beat locations: the reference annotations, the QRS detector, or auto (the annotations "
                        "when the record has beats in them, else detected; default)")
    p.add_argument("--ann", default="atr", help="annotation extension for reference beats (default: atr)")
    p.add_argument("--wfdb-out", default=None, help="also write <DIR>/<record>.pred, a WFDB annotation file")
    p.add_argument("--workers", type=int, default=None,
                   help="several records: processes at a time (default: the number of CPU cores)")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="weights path without extension")
    p = sub.add_parser("evaluate", help="AAMI statistics on DS2 (or --records 100,119) for the shipped weights")
    p.add_argument("--records", default="DS2")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    args = parser.parse_args(argv)
    commands = {"records": cmd_records, "info": cmd_info, "classify": cmd_classify, "evaluate": cmd_evaluate}
    try:
        return commands[args.command](args) or 0
    except (InputError, DataNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output, full disk, unreadable input: one line, not a traceback
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
