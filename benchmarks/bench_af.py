"""The atrial-fibrillation detector (ecgapp/rhythm.py) against the reference rhythm annotations.

    .venv/bin/python -m benchmarks.bench_af

Beat-level sensitivity, positive predictivity and specificity of "this beat sits in atrial fibrillation or
flutter" ((AFIB / (AFL in the mitdb annotations), on the reference beats with their reference V labels
(the detector leaves intervals next to V beats out), at the default threshold and at each candidate that
train.py's cross-validation chooses among. DS1 is where the detector was designed; DS2 is reported, never
used to choose. Also per record: the share of beats read as AF. Writes benchmarks/results/af.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgapp.aami import AAMI_CLASSES
from ecgapp.beats import extract_beats
from ecgapp.mitdb import AF_RHYTHMS, DS1, DS2, beat_rhythms, load_record
from ecgapp.rhythm import AF_THRESHOLD, af_irregularity

OUT = Path("benchmarks/results/af.md")
THRESHOLDS = (0.08, 0.10, 0.12, 0.15)


def record_scores(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(irregularity per beat, reference AF mask) of one record's reference beats."""
    beats = extract_beats(load_record(name))
    v = beats.label == AAMI_CLASSES.index("V")
    return af_irregularity(beats.rr[:, 0], v), np.isin(beat_rhythms(name), AF_RHYTHMS)


def stats(found: np.ndarray, af: np.ndarray) -> str:
    tp, fp = int((found & af).sum()), int((found & ~af).sum())
    fn, tn = int((~found & af).sum()), int((~found & ~af).sum())
    se = tp / (tp + fn) if tp + fn else float("nan")
    ppv = tp / (tp + fp) if tp + fp else float("nan")
    return f"{se:.3f} | {ppv:.3f} | {tn / (tn + fp):.3f} | {tp + fn} | {tp + fp}"


def main() -> None:
    lines = ["# Atrial fibrillation detector (`ecgapp/rhythm.py`) against the reference rhythm", "",
             "`.venv/bin/python -m benchmarks.bench_af`. Beat level, reference beats, intervals next to reference V "
             "beats left out. AF = reference rhythm (AFIB or (AFL. DS1 chose the design; DS2 is reported only.", "",
             "| set | threshold | Se | +P | Sp | AF beats | read as AF |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    per_record = ["", "| record | set | beats | reference AF share | read as AF (default threshold) |",
                  "| --- | --- | ---: | ---: | ---: |"]
    for label, names in (("DS1", DS1), ("DS2", DS2)):
        scores = {n: record_scores(n) for n in names}
        irr = np.concatenate([s for s, _ in scores.values()])
        af = np.concatenate([a for _, a in scores.values()])
        for th in THRESHOLDS:
            mark = " (default)" if th == AF_THRESHOLD else ""
            lines.append(f"| {label} | {th:g}{mark} | {stats(irr > th, af)} |")
        for n, (s, a) in scores.items():
            per_record.append(f"| {n} | {label} | {len(s)} | {a.mean():.2f} | {(s > AF_THRESHOLD).mean():.2f} |")
    text = "\n".join(lines + per_record) + "\n"
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
