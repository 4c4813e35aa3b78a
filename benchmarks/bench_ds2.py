"""DS2 at three sampling rates: AAMI table, calibration, F predicted vs real and per-record S/V counts.

Run from the project root: .venv/bin/python -m benchmarks.bench_ds2 [--weights weights/hybrid] [--far-shape 0]
[--no-s-gate] [--second-lead]

Every DS2 record is classified as recorded (360 Hz) and after resampling to 128 Hz and 250 Hz through the
normal loading path (``evaluation.resample_record`` -> ``make_record`` -> ``extract_beats``), the way an
upload from another recorder would be. Writes benchmarks/results/ds2.md (and prints it): per rate, the
gross statistics, the expected calibration error with and without the model's temperature, and one row
per record (S and V beats: real, found, predicted; F predicted), so a failing record shows at a glance.
``--far-shape X`` evaluates the same weights with the far-shape step at X (0 = off), to show that step's part
(written to benchmarks/results/ds2_far_shape_<X>.md); ``--no-s-gate`` without the on-time S gate
(benchmarks/results/ds2_no_s_gate.md); ``--second-lead`` reads every record in its other lead instead of MLII (V1 for
most DS2 records, V2 or V5 for a few: ``evaluation.second_lead_only``), as a recorder of that lead would give it
(benchmarks/results/ds2_second_lead.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgapp.evaluation import evaluate_at_rates, second_lead_only
from ecgapp.mitdb import DS2
from ecgapp.model import load_model

RESULTS = Path("benchmarks/results/ds2.md")


def markdown(weights: str, results: dict, command: str = "python -m benchmarks.bench_ds2") -> str:
    lines = [f"# DS2, `{weights}`", "", f"`.venv/bin/{command}`", ""]
    lines += ["| rate | VEB Se | VEB +P | VEB F1 | SVEB Se | SVEB +P | SVEB F1 | macro-F1 | accuracy | F predicted / real | ECE (no temperature -> calibrated) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for rate, res in results.items():
        r = res["report"]
        f_pred = sum(row[3] for row in r["confusion_matrix"]["counts"])
        lines.append(f"| {rate} | {r['Se']['V']:.3f} | {r['+P']['V']:.3f} | {r['F1']['V']:.3f} | {r['Se']['S']:.3f} | "
                     f"{r['+P']['S']:.3f} | {r['F1']['S']:.3f} | {r['macro_F1_NSV']:.3f} | {r['accuracy']:.3f} | "
                     f"{f_pred} / {r['support']['F']} | {res['ece_uncalibrated']:.3f} -> {res['ece']:.3f} |")
    for rate, res in results.items():
        lines += ["", f"## Per record, {rate}", "",
                  "| record | beats | S real | S found | S predicted | V real | V found | V predicted | F real | F predicted |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in res["per_record"]:
            lines.append(f"| {row['record']} | {row['beats']} | {row['S_real']} | {row['S_found']} | {row['S_predicted']} | "
                         f"{row['V_real']} | {row['V_found']} | {row['V_predicted']} | {row['F_real']} | {row['F_predicted']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    parser.add_argument("--out", default=None)
    parser.add_argument("--far-shape", type=float, default=None,
                        help="the far-shape step's threshold to evaluate the weights with (0 = off)")
    parser.add_argument("--no-s-gate", action="store_true", help="evaluate the weights without the on-time S gate")
    parser.add_argument("--second-lead", action="store_true", help="read each record's other lead instead of MLII")
    args = parser.parse_args()
    model, _ = load_model(args.weights, device="cpu")
    command, changed, name = "python -m benchmarks.bench_ds2", [], "ds2"
    if args.far_shape is not None:
        model.far_shape.fill_(args.far_shape)
        command += f" --far-shape {args.far_shape:g}"
        changed.append(f"far_shape {args.far_shape:g}")
        name += f"_far_shape_{args.far_shape:g}"
    if args.no_s_gate:
        model.s_gate.zero_()
        command += " --no-s-gate"
        changed.append("no on-time S gate")
        name += "_no_s_gate"
    if args.second_lead:
        command += " --second-lead"
        changed.append("each record's second lead")
        name += "_second_lead"
    out = args.out or RESULTS.with_name(f"{name}.md")
    text = markdown(args.weights + (f" with {', '.join(changed)}" if changed else ""),
                    evaluate_at_rates(model, DS2, lead_transform=second_lead_only if args.second_lead else None), command)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
