"""Patient-grouped cross-validation folds inside DS1, balanced for supraventricular and ventricular beats.

Every DS1 record (one patient; 201 and 202 are the same patient but 202 is in DS2) is held out exactly
once. S and V beats crowd into a few records (209 holds 40% of DS1's S beats, 208 nearly all its F), so a
random split can leave a fold with no S beats at all; ``ds1_folds`` draws many random splits with equal
record counts (seeded, deterministic) and keeps the one whose folds hold the most even shares of S and V.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .aami import AAMI_CLASSES, aami_index, is_beat
from .mitdb import DS1, load_record

N_FOLDS = 5
SPLIT_TRIES = 20000


@lru_cache(maxsize=4)
def class_counts(names: tuple[str, ...]) -> np.ndarray:
    """(len(names), 5) AAMI beat counts of each mitdb record's reference annotations."""
    rows = []
    for name in names:
        ann = load_record(name).annotations
        cls = aami_index(ann.symbol[is_beat(ann.symbol)])
        rows.append(np.bincount(cls[cls >= 0], minlength=len(AAMI_CLASSES)))
    return np.array(rows)


def balanced_folds(counts: np.ndarray, n_folds: int = N_FOLDS, seed: int = 0,
                   tries: int = SPLIT_TRIES) -> list[np.ndarray]:
    """Index arrays (one per fold) over the rows of ``counts`` that spread S and V most evenly.

    Score of a split: the largest deviation, over folds and over S and V, of a fold's share of that class
    from 1/n_folds. Fold sizes differ by at most one record.
    """
    rng = np.random.default_rng(seed)
    n = len(counts)
    cols = [AAMI_CLASSES.index("S"), AAMI_CLASSES.index("V")]
    totals = counts[:, cols].sum(axis=0).astype(float)
    base = np.arange(n) % n_folds
    best, best_score = None, np.inf
    for _ in range(tries):
        fold = rng.permutation(base)
        per = np.stack([counts[fold == f][:, cols].sum(axis=0) for f in range(n_folds)]) / totals
        score = np.abs(per - 1 / n_folds).max()
        if score < best_score:
            best, best_score = fold, score
    return [np.flatnonzero(best == f) for f in range(n_folds)]


@lru_cache(maxsize=4)
def ds1_folds(n_folds: int = N_FOLDS, seed: int = 0) -> tuple[tuple[str, ...], ...]:
    """The held-out DS1 records of each fold (the rest of DS1 trains that fold's model)."""
    counts = class_counts(DS1)
    return tuple(tuple(DS1[i] for i in idx) for idx in balanced_folds(counts, n_folds, seed))


def folds_of(names, n_folds: int = N_FOLDS, seed: int = 0) -> tuple[tuple[str, ...], ...]:
    """``ds1_folds`` for all of DS1; the same balanced search over any other record list (quick runs)."""
    names = tuple(names)
    if sorted(names) == sorted(DS1):
        return ds1_folds(n_folds, seed)
    n_folds = min(n_folds, len(names))
    return tuple(tuple(names[i] for i in idx) for idx in balanced_folds(class_counts(names), n_folds, seed, tries=2000))
