"""Beat-template correlation (ecgapp/quality.py) on every MIT-BIH record and on pure noise.

    .venv/bin/python -m benchmarks.bench_quality

Detected beats (the app's and the CLI's path for an upload without annotations) on the default lead of all
48 mitdb records, on the nstdb noise records (bw, em, ma) and on 1 and 30 minutes of white noise; the median
correlation of each beat with its record's template and whether ``looks_like_noise`` flags it.
Writes benchmarks/results/quality.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgapp.beats import extract_beats
from ecgapp.detection import detect_r_peaks
from ecgapp.features import beat_inputs
from ecgapp.mitdb import MITDB_RECORDS, NSTDB_NOISE, load_nstdb, load_record
from ecgapp.quality import NOISE_MEDIAN_R, looks_like_noise, template_correlation
from ecgapp.records import make_record

OUT = Path("benchmarks/results/quality.md")


def row(name: str, rec) -> tuple[str, int, float, bool]:
    lead = rec.leads[rec.lead_index(None)]
    beats = extract_beats(rec, r_peaks=detect_r_peaks(rec.lead_signal(lead), rec.fs, lead=f"{name} {lead}"))
    r = template_correlation(beat_inputs(beats)[0]) if len(beats) else np.zeros(0)
    return name, len(beats), float(np.median(r)) if r.size else float("nan"), looks_like_noise(r)


def main() -> None:
    rng = np.random.default_rng(0)
    rows = [row(n, load_record(n)) for n in MITDB_RECORDS]
    rows += [row(f"nstdb {n}", load_nstdb(n)) for n in NSTDB_NOISE]
    rows += [row(f"white noise {m} min", make_record(rng.standard_normal(360 * 60 * m), 360, name="white"))
             for m in (1, 30)]
    mitdb = [r for r in rows[: len(MITDB_RECORDS)]]
    lines = ["# Beat-template correlation: ECG or noise?", "",
             "`.venv/bin/python -m benchmarks.bench_quality` (detected beats, default lead; flagged as noise when "
             f"the median is below {NOISE_MEDIAN_R})", "",
             f"MIT-BIH: lowest median {min(r[2] for r in mitdb):.3f} ({min(mitdb, key=lambda r: r[2])[0]}); "
             f"records flagged: {sum(r[3] for r in mitdb)} of {len(mitdb)}.", "",
             "| input | beats detected | median r | flagged as noise |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {n} | {k} | {m:.3f} | {'yes' if f else 'no'} |" for n, k, m, f in rows]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
