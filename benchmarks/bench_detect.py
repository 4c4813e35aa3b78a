"""Beat detection compared on all 48 MIT-BIH records, the noise stress test, and end to end on DS2.

Run from the project root: .venv/bin/python -m benchmarks.bench_detect   (about 5 minutes on this CPU)
       .venv/bin/python -m benchmarks.bench_detect --design   (the detector's design choices, under a minute)

Detectors, each on the record's default lead (MLII; the first lead in 102 and 104, which lack it), timed
side by side in one run: ``ecgapp`` (ecgapp/qrs.py, the default), the textbook Pan-Tompkins settings
of the same code, wfdb's ``xqrs_detect`` and ``gqrs_detect``. Scoring (EC57): every reference beat
annotation, a 150 ms matching window, gross Se and +P over the records; detections inside ventricular
flutter/fibrillation episodes (between '[' and ']', record 207) are not counted, as EC57 prescribes (the
count including them is printed too). Also: |offset| from the reference R peak (median, 95th percentile),
nstdb 118e*/119e* per SNR, and DS2 classification with detected beats beside reference beats.
Writes benchmarks/results/detect.md.

``--design`` instead scores the default settings against one change at a time (and the textbook settings) on
the 48 records, on record 108 (tall P waves) and on record 100 replayed three times faster (about 225 bpm),
into benchmarks/results/detect_design.md.
"""

from __future__ import annotations

import argparse
import io
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

from ecgapp import load_nstdb, load_record
from ecgapp.aami import AAMI_CLASSES, aami_index, is_beat
from ecgapp.detection import MATCH_TOLERANCE_S, match_beats
from ecgapp.mitdb import DS2, MITDB_RECORDS, NSTDB_TEST
from dataclasses import replace

from ecgapp.qrs import DEFAULT_SETTINGS, PAN_TOMPKINS, detect_qrs

RESULTS = Path("benchmarks/results/detect.md")
DESIGN_RESULTS = Path("benchmarks/results/detect_design.md")
DESIGN_VARIANTS = {
    "default": DEFAULT_SETTINGS,
    "energy envelope instead of its square root": replace(DEFAULT_SETTINGS, envelope="energy"),
    "no competition (candidates 200 ms apart)": replace(DEFAULT_SETTINGS, compete_s=0.0),
    "fixed 300 ms refractory instead of competition": replace(DEFAULT_SETTINGS, compete_s=0.0, refractory_s=0.3),
    "threshold at 25% (textbook) instead of 30%": replace(DEFAULT_SETTINGS, threshold_fraction=0.25),
    "Pan-Tompkins textbook settings": PAN_TOMPKINS,
}



def xqrs(x, fs):
    from wfdb import processing

    return processing.xqrs_detect(np.nan_to_num(x), fs, verbose=False)


def gqrs(x, fs):
    from wfdb import processing

    return processing.gqrs_detect(np.nan_to_num(x), fs)


DETECTORS = {
    "ecgapp (default)": lambda x, fs: detect_qrs(x, fs),
    "Pan-Tompkins (textbook settings)": lambda x, fs: detect_qrs(x, fs, settings=PAN_TOMPKINS),
    "wfdb xqrs": xqrs,
    "wfdb gqrs": gqrs,
}


def vf_mask(rec, det: np.ndarray) -> np.ndarray:
    """True for detections inside a ventricular flutter/fibrillation episode ('[' to ']')."""
    ann = rec.annotations
    inside = np.zeros(det.size, bool)
    for a, b in zip(ann.sample[ann.symbol == "["], ann.sample[ann.symbol == "]"]):
        inside |= (det >= a) & (det <= b)
    return inside


def score(rec, det: np.ndarray) -> dict:
    ann = rec.annotations
    ref = ann.sample[is_beat(ann.symbol)]
    det = np.unique(np.asarray(det, dtype=np.int64))
    in_vf = vf_mask(rec, det)
    ri, di = match_beats(ref, det, int(round(MATCH_TOLERANCE_S * rec.fs)))
    tp = ri.size
    matched = np.zeros(det.size, bool)
    matched[di] = True
    return {"tp": tp, "fn": ref.size - tp, "fp": int((~matched & ~in_vf).sum()), "fp_vf": int((~matched & in_vf).sum()),
            "offset_ms": 1000 * np.abs(det[di] - ref[ri]) / rec.fs}


def mitdb_table(records) -> dict:
    print(f"## All {len(records)} MIT-BIH records, lead MLII (first lead where absent), 150 ms window\n")
    print("| detector | Se | +P | missed | false | false incl. VF episodes | |offset| median / p95 (ms) | time (s) | speed vs xqrs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals = {}
    for name, fn in DETECTORS.items():
        tp = fn_ = fp = fpvf = 0
        offsets, elapsed = [], 0.0
        worst = []
        for rec in records:
            x = rec.lead_signal()
            t = time.perf_counter()
            det = fn(x, rec.fs)
            elapsed += time.perf_counter() - t
            s = score(rec, det)
            tp, fn_, fp, fpvf = tp + s["tp"], fn_ + s["fn"], fp + s["fp"], fpvf + s["fp_vf"]
            offsets.append(s["offset_ms"])
            worst.append((s["fn"] + s["fp"], rec.name, s["fn"], s["fp"]))
        o = np.concatenate(offsets)
        totals[name] = {"se": tp / (tp + fn_), "ppv": tp / (tp + fp), "time": elapsed,
                        "worst": sorted(worst, reverse=True)[:5]}
        totals[name].update(missed=fn_, false=fp, false_vf=fp + fpvf, med=np.median(o), p95=np.percentile(o, 95))
    base = totals["wfdb xqrs"]["time"]
    for name, r in totals.items():
        print(f"| {name} | {100 * r['se']:.2f}% | {100 * r['ppv']:.2f}% | {r['missed']} | {r['false']} | "
              f"{r['false_vf']} | {r['med']:.1f} / {r['p95']:.1f} | {r['time']:.1f} | {base / r['time']:.1f}x |")
    print()
    for name, r in totals.items():
        print(f"- {name}: most errors in " + ", ".join(f"{w[1]} ({w[2]} missed, {w[3]} false)" for w in r["worst"]))
    print()
    return totals


def nstdb_table() -> None:
    print("## Noise stress test (nstdb 118e*, 119e*: electrode-motion noise added to 118 and 119)\n")
    snrs = ["24", "18", "12", "06", "00", "_6"]
    print("| record | SNR dB | ecgapp Se | ecgapp +P | xqrs Se | xqrs +P |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for base in ("118", "119"):
        for snr in snrs:
            name = f"{base}e{snr}"
            if name not in NSTDB_TEST:
                continue
            rec = load_nstdb(name)
            cells = []
            for det in (DETECTORS["ecgapp (default)"], DETECTORS["wfdb xqrs"]):
                try:
                    s = score(rec, det(rec.lead_signal(), rec.fs))
                    cells += [f"{100 * s['tp'] / (s['tp'] + s['fn']):.1f}%", f"{100 * s['tp'] / max(1, s['tp'] + s['fp']):.1f}%"]
                except Exception as exc:  # noqa: BLE001 - a detector that gives up is a result too
                    cells += [f"failed: {exc}", ""]
            print(f"| {base} | {snr.replace('_', '-')} | " + " | ".join(cells) + " |")
    print()


def end_to_end() -> None:
    from ecgapp.analysis import analyse
    from ecgapp.model import load_model

    model, card = load_model("weights/hybrid", device="cpu")
    correct = {c: 0 for c in AAMI_CLASSES}
    reference = {c: 0 for c in AAMI_CLASSES}
    labelled = {c: 0 for c in AAMI_CLASSES}
    missed = extra = 0
    for name in DS2:
        rec = load_record(name)
        a = analyse(model, rec, source="detected")
        t = a.table
        ann = rec.annotations
        ref_classes = np.asarray(AAMI_CLASSES)[aami_index(ann.symbol[is_beat(ann.symbol)])]
        for c in AAMI_CLASSES:
            correct[c] += int(((t["reference"] == c) & (t["label"] == c)).sum())
            reference[c] += int((ref_classes == c).sum())
            labelled[c] += int((t["label"] == c).sum())
        missed += a.detection["missed"]
        extra += a.detection["extra"]
    ds2 = card["ds2"]
    print("## End to end on DS2 (shipped hybrid): detected beats vs reference beats\n")
    print(f"Detection on the 22 DS2 records: {missed} reference beats missed, {extra} extra detections (150 ms). "
          f"With detected beats, Se = correctly labelled / all reference beats of the class (a missed beat "
          f"counts as wrong) and +P = correctly labelled / all detections labelled the class (an extra "
          f"detection counts as wrong).\n")
    print("| class | Se, reference beats | Se, detected beats | +P, reference beats | +P, detected beats |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for c in ("N", "S", "V"):
        print(f"| {c} | {ds2['Se'][c]:.3f} | {correct[c] / reference[c]:.3f} | {ds2['+P'][c]:.3f} | "
              f"{correct[c] / max(1, labelled[c]):.3f} |")
    print()


def design_table(records) -> None:
    """Each design choice of the default settings, undone one at a time."""
    fast = load_record("100")
    n = int(120 * fast.fs)
    fast_x = fast.lead_signal()[:n]
    fast_ref = fast.annotations.sample[is_beat(fast.annotations.symbol) & (fast.annotations.sample < n)]
    print("## Design choices of the detector (all 48 records, 150 ms, VF episodes excluded)\n")
    print("| settings | Se | +P | missed | false | false in 108 | Se at 225 bpm (100, 2 min, 3x speed) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, settings in DESIGN_VARIANTS.items():
        tp = fn_ = fp = fp108 = 0
        for rec in records:
            s = score(rec, detect_qrs(rec.lead_signal(), rec.fs, settings=settings))
            tp, fn_, fp = tp + s["tp"], fn_ + s["fn"], fp + s["fp"]
            fp108 += s["fp"] if rec.name == "108" else 0
        det = detect_qrs(fast_x, 3 * fast.fs, settings=settings)
        ri, _ = match_beats(fast_ref, det, int(round(MATCH_TOLERANCE_S * 3 * fast.fs)))
        print(f"| {name} | {100 * tp / (tp + fn_):.2f}% | {100 * tp / (tp + fp):.2f}% | {fn_} | {fp} | {fp108} | "
              f"{100 * ri.size / fast_ref.size:.0f}% |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", nargs="+", default=list(MITDB_RECORDS))
    parser.add_argument("--skip-nstdb", action="store_true")
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument("--design", action="store_true", help="only the table of design choices")
    args = parser.parse_args()
    out = io.StringIO()
    records = [load_record(n) for n in args.records]
    if args.design:
        with redirect_stdout(out):
            design_table(records)
        print(out.getvalue(), end="")
        if set(args.records) == set(MITDB_RECORDS):
            DESIGN_RESULTS.write_text(out.getvalue())
        return
    with redirect_stdout(out):
        mitdb_table(records)
        if not args.skip_nstdb:
            nstdb_table()
        if not args.skip_end_to_end:
            end_to_end()
    print(out.getvalue(), end="")
    if set(args.records) == set(MITDB_RECORDS):
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(out.getvalue())


if __name__ == "__main__":
    main()
