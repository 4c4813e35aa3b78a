"""AAMI EC57 heartbeat classes and the mapping from MIT-BIH annotation symbols to them.

N (normal and bundle-branch-block beats), S (supraventricular ectopic), V (ventricular ectopic),
F (fusion of ventricular and normal), Q (paced, fusion of paced and normal, unclassifiable).
Symbols not in the map (rhythm changes ``+``, noise ``~``, ventricular flutter waves ``!``, ...) are not
beats and get class -1.
"""

from __future__ import annotations

import numpy as np

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
SYMBOL_TO_AAMI: dict[str, str] = {
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N", "B": "N",
    "A": "S", "a": "S", "J": "S", "S": "S", "n": "S",
    "V": "V", "E": "V", "r": "V",
    "F": "F",
    "/": "Q", "f": "Q", "Q": "Q",
}
_SYMBOL_TO_INDEX = {s: AAMI_CLASSES.index(c) for s, c in SYMBOL_TO_AAMI.items()}


def aami_index(symbols) -> np.ndarray:
    """AAMI class index (0..4 for N, S, V, F, Q) of each MIT-BIH symbol; -1 for non-beat symbols."""
    symbols = np.asarray(symbols, dtype=str)
    return np.fromiter((_SYMBOL_TO_INDEX.get(s, -1) for s in symbols), dtype=np.int64, count=symbols.size)


def is_beat(symbols) -> np.ndarray:
    """True where the symbol is a heartbeat with an AAMI class."""
    return aami_index(symbols) >= 0


def class_counts(labels) -> dict[str, int]:
    """Number of beats per AAMI class from class indices (entries < 0 are ignored)."""
    labels = np.asarray(labels)
    counts = np.bincount(labels[labels >= 0], minlength=len(AAMI_CLASSES))
    return {c: int(n) for c, n in zip(AAMI_CLASSES, counts)}
