"""Speed: classify a whole 30-minute MIT-BIH record (load, filter, cut beats, model) on this CPU.

Run from the project root: .venv/bin/python -m benchmarks.bench_classify [--weights weights/hybrid]
Prints the median over 5 repeats of each stage for three records and the model load time (once); "of which
AF gate" is the atrial-fibrillation detector and gate alone (``rhythm.af_gate_mask``) and "of which template
consensus" the record's templates and the consensus (``model.consensus``), both part of "model".
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from ecgapp.beats import extract_beats
from ecgapp.inference import predict_beats, predict_logits
from ecgapp.features import beat_inputs
from ecgapp.rhythm import af_gate_mask
from ecgapp.mitdb import load_record
from ecgapp.model import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="weights/hybrid")
    parser.add_argument("--records", nargs="+", default=["100", "208", "233"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    model, card = load_model(args.weights, device="cpu")
    print(f"model {card['name']} ({card['architecture']}, {card['parameters']:,} parameters) loaded in "
          f"{time.perf_counter() - t0:.2f} s; {os.cpu_count()} cores, {torch.get_num_threads()} torch threads")
    for name in args.records:
        times = {"load": [], "filter+cut": [], "model": [], "total": [], "of which AF gate": [],
                 "of which template consensus": []}
        for _ in range(args.repeats):
            a = time.perf_counter()
            rec = load_record(name)
            b = time.perf_counter()
            beats = extract_beats(rec)
            c = time.perf_counter()
            predict_beats(model, beats)
            d = time.perf_counter()
            waves, rr = beat_inputs(beats)
            logits = predict_logits(model, waves, rr)
            e = time.perf_counter()
            af_gate_mask(logits, rr[:, 0], float(model.af_threshold))
            f = time.perf_counter()
            model.consensus(logits, waves, rr)
            g = time.perf_counter()
            for k, v in zip(times, (b - a, c - b, d - c, d - a, f - e, g - f)):
                times[k].append(v)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"record {name}: {len(beats)} beats, {rec.duration_s / 60:.0f} min: "
              + ", ".join(f"{k} {v:.3f} s" for k, v in med.items()))


if __name__ == "__main__":
    main()
