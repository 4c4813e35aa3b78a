"""DS2 as an upload is read: beats found by the detector, the app's whole path, at 360 Hz and resampled to 128 Hz.

Run from the project root: .venv/bin/python -m benchmarks.bench_ds2_detected [--weights weights/hybrid]

``bench_ds2`` labels the reference beat locations (the published inter-patient protocol). A user's upload has no
annotations: the app finds the beats itself (``qrs``), checks signal quality (beats of unreadable stretches are
labelled Q) and classifies what it found. Here every DS2 record goes through ``analysis.analyse(...,
source="detected")``, as recorded and after resampling to 128 Hz through the loading path; detected beats are
matched to the reference within 150 ms (``analysis.reference_labels_for``) and the label the app shows is scored
on the matched beats (AAMI gross statistics); missed and extra beats are counted beside them. Writes
benchmarks/results/ds2_detected.md (and prints it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ecgapp.aami import AAMI_CLASSES
from ecgapp.analysis import analyse
from ecgapp.evaluation import per_record_table, resample_record
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS2, load_record
from ecgapp.model import load_model

RESULTS = Path("benchmarks/results/ds2_detected.md")
RATES_HZ = (360.0, 128.0)


def run(model, fs: float) -> tuple[dict, dict, dict]:
    """(pooled AAMI report as a dict, per record (one-hot labels, reference), detection counts summed)."""
    per, counts = {}, {"reference beats": 0, "matched": 0, "missed": 0, "extra": 0}
    for name in DS2:
        record = load_record(name)
        a = analyse(model, record if fs == record.fs else resample_record(record, fs), source="detected")
        for k in counts:
            counts[k] += a.detection[k]
        matched = (a.table["reference"] != "").to_numpy()
        ref = np.array([AAMI_CLASSES.index(c) for c in a.table["reference"][matched]], dtype=int)
        shown = np.array([AAMI_CLASSES.index(c) for c in a.table["label"][matched]], dtype=int)
        per[name] = (np.eye(len(AAMI_CLASSES))[shown], ref)  # one-hot: per_record_table reads its argmax
    truth = np.concatenate([y for _, y in per.values()])
    pred = np.concatenate([z.argmax(axis=1) for z, _ in per.values()])
    return aami_report(truth, pred).to_dict(), per, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    args = parser.parse_args()
    model, _ = load_model(args.weights, device="cpu")
    lines = [f"# DS2 with detected beats (the app's path for an upload), `{args.weights}`", "",
             "`.venv/bin/python -m benchmarks.bench_ds2_detected`", "",
             "| rate | beats matched / reference (missed, extra) | VEB Se | VEB +P | VEB F1 | SVEB Se | SVEB +P | SVEB F1 | "
             "macro-F1 | Q shown (unreadable) | F predicted / real |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    tables = []
    for fs in RATES_HZ:
        r, per, c = run(model, fs)
        m = r["confusion_matrix"]["counts"]
        lines.append(f"| {fs:g} Hz | {c['matched']:,} / {c['reference beats']:,} ({c['missed']:,}, {c['extra']:,}) | "
                     f"{r['Se']['V']:.3f} | {r['+P']['V']:.3f} | {r['F1']['V']:.3f} | {r['Se']['S']:.3f} | "
                     f"{r['+P']['S']:.3f} | {r['F1']['S']:.3f} | {r['macro_F1_NSV']:.3f} | {sum(row[4] for row in m)} | "
                     f"{sum(row[3] for row in m)} / {r['support']['F']} |")
        tables += ["", f"## Per record, {fs:g} Hz (matched beats)", "",
                   "| record | beats | S real | S found | S predicted | V real | V found | V predicted | F real | F predicted |",
                   "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        tables += [f"| {row['record']} | {row['beats']} | {row['S_real']} | {row['S_found']} | {row['S_predicted']} | "
                   f"{row['V_real']} | {row['V_found']} | {row['V_predicted']} | {row['F_real']} | {row['F_predicted']} |"
                   for row in per_record_table(per)]
    text = "\n".join(lines + tables) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
