"""AAMI EC57 statistics for beat classification.

Gross statistics, as EC57 and the inter-patient literature report them: beats of all records are pooled
into one confusion matrix before anything is divided. For class c:

- Se (sensitivity) = TP / (TP + FN): of the reference c beats, the share labelled c;
- +P (positive predictivity) = TP / (TP + FP): of the beats labelled c, the share that are c;
- F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of Se and +P (0 when either is 0).

A ratio with a zero denominator is NaN (not 0): "no such beats" is not "all wrong"; so +P of a class that
is never predicted is NaN while its F1 is 0, and F1 is NaN only for a class absent from both sides.
Macro-F1 is the mean F1 over N, S and V (F and Q are too rare in DS2 to weigh equally), over those of the
three that are defined (a validation subset may hold no S beats); NaN if none is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .aami import AAMI_CLASSES

MACRO_CLASSES = ("N", "S", "V")


def confusion_matrix(true, pred) -> np.ndarray:
    """5 x 5 int64 counts: rows = reference class, columns = predicted class; entries < 0 are ignored."""
    true, pred = np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    if true.shape != pred.shape:
        raise ValueError(f"{true.size} reference labels but {pred.size} predictions")
    keep = (true >= 0) & (pred >= 0)
    k = len(AAMI_CLASSES)
    return np.bincount(true[keep] * k + pred[keep], minlength=k * k).reshape(k, k)


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


@dataclass(frozen=True)
class AamiReport:
    """Confusion matrix and the statistics derived from it (dicts keyed by class letter)."""

    matrix: np.ndarray
    se: dict[str, float]
    ppv: dict[str, float]
    f1: dict[str, float]
    support: dict[str, int]
    accuracy: float
    macro_f1: float

    def to_dict(self) -> dict:
        """JSON-ready: NaN becomes None, ratios rounded to 4 decimals."""
        def clean(d):
            return {k: (None if isinstance(v, float) and math.isnan(v) else round(v, 4) if isinstance(v, float) else v)
                    for k, v in d.items()}
        return {
            "confusion_matrix": {"rows=reference, columns=predicted": list(AAMI_CLASSES),
                                 "counts": self.matrix.tolist()},
            "Se": clean(self.se), "+P": clean(self.ppv), "F1": clean(self.f1), "support": self.support,
            **clean({"accuracy": self.accuracy, "macro_F1_NSV": self.macro_f1}),
        }

    def table(self) -> str:
        """Plain-text confusion matrix and per-class statistics for a terminal."""
        w = max(7, len(str(int(self.matrix.max(initial=0)))) + 2)
        lines = ["reference \\ predicted " + "".join(f"{c:>{w}}" for c in AAMI_CLASSES)]
        for c, row in zip(AAMI_CLASSES, self.matrix):
            lines.append(f"{c:>21} " + "".join(f"{n:>{w}}" for n in row))
        lines.append("")
        lines.append(f"{'class':>5} {'Se':>7} {'+P':>7} {'F1':>7} {'beats':>7}")
        for c in AAMI_CLASSES:
            lines.append(f"{c:>5} {self.se[c]:7.3f} {self.ppv[c]:7.3f} {self.f1[c]:7.3f} {self.support[c]:7d}")
        lines.append(f"accuracy {self.accuracy:.4f}   macro-F1 (N, S, V) {self.macro_f1:.4f}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """Per-class statistics as a markdown table."""
        rows = ["| class | Se | +P | F1 | beats |", "| --- | ---: | ---: | ---: | ---: |"]
        for c in AAMI_CLASSES:
            rows.append(f"| {c} | {self.se[c]:.3f} | {self.ppv[c]:.3f} | {self.f1[c]:.3f} | {self.support[c]} |")
        return "\n".join(rows)


def aami_report(true, pred) -> AamiReport:
    """AAMI EC57 gross statistics of predicted vs reference class indices (0..4 = N, S, V, F, Q)."""
    return report_from_matrix(confusion_matrix(true, pred))


def report_from_matrix(m: np.ndarray) -> AamiReport:
    """``aami_report`` of a 5 x 5 confusion matrix (rows reference, columns predicted), e.g. several records' summed."""
    m = np.asarray(m, dtype=np.int64)
    tp = np.diag(m).astype(float)
    ref, predicted = m.sum(axis=1), m.sum(axis=0)
    se = {c: _ratio(tp[i], ref[i]) for i, c in enumerate(AAMI_CLASSES)}
    ppv = {c: _ratio(tp[i], predicted[i]) for i, c in enumerate(AAMI_CLASSES)}
    f1 = {c: _ratio(2 * tp[i], ref[i] + predicted[i]) for i, c in enumerate(AAMI_CLASSES)}
    defined = [f1[c] for c in MACRO_CLASSES if not math.isnan(f1[c])]
    macro = float(np.mean(defined)) if defined else math.nan
    return AamiReport(matrix=m, se=se, ppv=ppv, f1=f1, support={c: int(n) for c, n in zip(AAMI_CLASSES, ref)},
                      accuracy=_ratio(tp.sum(), m.sum()), macro_f1=macro)
