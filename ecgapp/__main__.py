"""Command line: ``python -m ecgapp records`` lists the MIT-BIH records; ``info RECORD`` describes one.

(``classify`` and ``evaluate`` arrive with the model.)
"""

from __future__ import annotations

import argparse
import sys

from .aami import class_counts
from .beats import extract_beats
from .errors import DataNotFoundError, InputError
from .mitdb import DS1, DS2, PACED_RECORDS, VALIDATION, list_records, load_record
from .wfdbfile import read_wfdb


def _split_of(name: str) -> str:
    if name in PACED_RECORDS:
        return "paced"
    if name in VALIDATION:
        return "DS1 (validation)"
    return "DS1" if name in DS1 else "DS2" if name in DS2 else "-"


def cmd_records(_args) -> None:
    for info in list_records():
        print(f"{info.label:<70} {'/'.join(info.leads):<9} {_split_of(info.name)}")


def cmd_info(args) -> None:
    rec = load_record(args.record) if args.record.isdigit() else read_wfdb(args.record, ann_ext=args.ann)
    print(f"{rec.name}: {rec.n_leads} lead(s) {', '.join(rec.leads)}, {rec.fs:g} Hz, {rec.duration_s:.1f} s")
    for c in rec.comments:
        print(f"  # {c}")
    for note in rec.notes:
        print(f"  note: {note}")
    if rec.annotations is not None:
        beats = extract_beats(rec)
        print(f"  reference beats: {len(beats)} {class_counts(beats.label)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgapp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("records", help="list the 48 MIT-BIH records with age, sex, medications, split")
    p = sub.add_parser("info", help="describe a record: a MIT-BIH name (100) or a WFDB path without extension")
    p.add_argument("record")
    p.add_argument("--ann", default="atr", help="annotation file extension for a WFDB path (default: atr)")
    args = parser.parse_args(argv)
    try:
        {"records": cmd_records, "info": cmd_info}[args.command](args)
    except (InputError, DataNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
