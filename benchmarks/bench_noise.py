"""Robustness: DS2 with held-back nstdb noise added at 24, 12, 6 and 0 dB SNR; VEB and SVEB F1 per SNR.

Run from the project root: .venv/bin/python -m benchmarks.bench_noise [--weights weights/hybrid]

Noise is the second half of each nstdb noise record (bw, em, ma; first channel), which training never sees
(augment.py uses only the first half). It is added to the raw MLII signal before the normal pipeline
(clean, cut, classify), at the SNR convention of the Noise Stress Test Database (evaluation.noise_for_snr).
"""

from __future__ import annotations

import argparse

import numpy as np

from ecgapp.evaluation import evaluate_records, with_noise
from ecgapp.mitdb import DS2, NSTDB_NOISE, load_nstdb
from ecgapp.model import load_model

DEFAULT_WEIGHTS = "weights/hybrid"


def held_back_noise(name: str, length: int) -> np.ndarray:
    """Raw (unfiltered) mV noise from the second half of an nstdb record, repeated to ``length`` samples."""
    rec = load_nstdb(name)
    half = rec.signal[rec.n_samples // 2:, 0].astype(np.float64)
    return np.resize(half, length)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--snr", type=float, nargs="+", default=[24, 12, 6, 0])
    parser.add_argument("--noise", nargs="+", default=list(NSTDB_NOISE))
    args = parser.parse_args()
    model, card = load_model(args.weights, device="cpu")
    print(f"{card['name']} ({card['architecture']}) on DS2 ({len(DS2)} records), reference beats; F1 per class")
    clean, _ = evaluate_records(model, DS2)
    print(f"{'noise':<6} {'SNR dB':>7} {'VEB F1':>7} {'SVEB F1':>8} {'VEB Se':>7} {'VEB +P':>7} {'SVEB Se':>8} {'SVEB +P':>8}")

    def row(noise, snr, r):
        print(f"{noise:<6} {snr:>7} {r.f1['V']:7.3f} {r.f1['S']:8.3f} {r.se['V']:7.3f} {r.ppv['V']:7.3f} "
              f"{r.se['S']:8.3f} {r.ppv['S']:8.3f}", flush=True)

    row("none", "-", clean)
    for name in args.noise:
        noise = held_back_noise(name, 650000)
        for snr in args.snr:
            report, _ = evaluate_records(model, DS2, transform=lambda rec: with_noise(rec, noise, snr))
            row(name, f"{snr:g}", report)


if __name__ == "__main__":
    main()
