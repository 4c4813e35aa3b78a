"""A reader's review of one analysed record: labels given by hand (per beat or per template), undo, and the
labels of a model adapted to this patient.

Which label a beat shows, in order: the reader's, else the adapted model's (after ``adapt``), else the shipped
model's (Q for the beats of unreadable stretches, ``analysis.mark_unreadable``, unless the reader labels them).
``reviewed`` returns the Analysis with that table, so every summary figure and both downloads follow the reader;
the table keeps ``model_label`` (the shipped model's) and ``label_by`` ("model", "adapted", "reader" or
"quality"). No Streamlit here: the app keeps a ``Review`` per record in its session state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field

import numpy as np
import torch

from .aami import AAMI_CLASSES
from .adapt import ADAPT_PARTS, KEEP_NETWORK_S, adapt_model, keeps_network_s, propagate_by_template
from .analysis import Analysis
from .inference import predict_inputs
from .summary import agreement, rhythm_summary
from .templates import Templates, beat_templates

TRAIN_ON_VOTES = True  # the network learns from the reader's and the templates' labels (chosen on DS1, out of
# fold: macro-F1 0.862 against 0.819 from the reader's labels alone; benchmarks/results/adapt_ds1.md)
KEEP_ABSENT = True  # the network also learns the shipped labels of the classes the reader labelled nowhere
# (adapt.with_absent_classes), else it forgets them: on DS1, out of fold, a reader labelling the first 5 minutes, this
# path scored macro-F1 0.920 against 0.858 without it and 0.902 for the shipped model on the same beats
# (`python -m benchmarks.bench_adapt --ds1 runs/hybrid/seed0 [--keep-absent]`, benchmarks/results/adapt_ds1.md)
MAX_UNDO = 50


@dataclass
class Review:
    """Reader labels ('' = none) and adapted labels ('' = none) for the n beats of one analysis, with undo.

    ``labels_key`` names the labels themselves (a cache key for what depends on them, safe to share between
    sessions: two reviews with the same labels have the same key, whatever their history).
    """

    n: int
    reader: np.ndarray = None
    adapted: np.ndarray = None
    adapted_probs: np.ndarray | None = None
    adapted_state: dict | None = None  # the adapted network's weights (CPU tensors), for download
    adapted_card: dict | None = None
    _undo: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        if self.reader is None:
            self.reader = np.full(self.n, "", dtype="<U1")
        if self.adapted is None:
            self.adapted = np.full(self.n, "", dtype="<U1")

    @property
    def labels_key(self) -> str:
        """'' while no beat carries a reader's or an adapted label, else a digest of those labels and the adapted
        probabilities (what the shown table is made of)."""
        if not (self.reader != "").any() and not (self.adapted != "").any():
            return ""
        h = hashlib.sha256(self.reader.tobytes() + b"|" + self.adapted.tobytes())
        if self.adapted_probs is not None:
            h.update(np.ascontiguousarray(self.adapted_probs).tobytes())
        return h.hexdigest()[:24]

    def _push(self, entry: tuple) -> None:
        self._undo.append(entry)
        del self._undo[:-MAX_UNDO]

    def relabel(self, beats, label: str) -> int:
        """Give beats (0-based indices) the reader label ``label`` (an AAMI letter; '' clears the reader's
        label). Returns how many beats changed; one undo step."""
        if label not in ("", *AAMI_CLASSES):
            raise ValueError(f"label must be one of {', '.join(AAMI_CLASSES)} (or '' to clear), got {label!r}")
        idx = np.unique(np.asarray(beats, dtype=np.int64))
        if idx.size and (idx[0] < 0 or idx[-1] >= self.n):
            raise IndexError(f"beat indices must be 0-{self.n - 1}")
        idx = idx[self.reader[idx] != label]
        if idx.size == 0:
            return 0
        self._push(("reader", idx, self.reader[idx].copy()))
        self.reader[idx] = label
        return int(idx.size)

    def set_adapted(self, labels: np.ndarray, probs: np.ndarray, state: dict, card: dict) -> None:
        """Store an adapted model's labels (n,; '' where it agrees with the shipped model) and probabilities
    (n, 5) and its weights; one undo step."""
        self._push(("adapted", self.adapted.copy(), self.adapted_probs, self.adapted_state, self.adapted_card))
        self.adapted = np.asarray(labels).astype("<U1")
        self.adapted_probs, self.adapted_state, self.adapted_card = probs, state, card

    def undo(self) -> bool:
        """Take back the last change (a relabel or an adaptation). False when there is nothing to undo."""
        if not self._undo:
            return False
        entry = self._undo.pop()
        if entry[0] == "reader":
            self.reader[entry[1]] = entry[2]
        else:
            self.adapted, self.adapted_probs, self.adapted_state, self.adapted_card = entry[1:]
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def reader_count(self) -> int:
        return int((self.reader != "").sum())


def network_labels(a: Analysis) -> np.ndarray:
    """The network's own label of each beat (AAMI letters): before the signal-quality check and any review."""
    return (a.table["network_label"] if "network_label" in a.table else a.table["label"]).to_numpy().astype("<U1")


def relabel_template(review: Review, beats, label: str, network=None) -> tuple[int, int]:
    """The reader gives a template (``beats``: its members) ``label``: every member takes it as the reader's, one undo
    step; but a template labelled N leaves the members the network reads as S (``network``: its letter per member) to
    the network (``adapt.keeps_network_s``): the template says the shape is normal, and a supraventricular premature
    beat has the normal shape. Returns (beats whose label changed, members left as the network's S)."""
    beats = np.asarray(beats, dtype=np.int64)
    left = _left_to_network(label, network, beats.size)
    return review.relabel(beats[~left], label), int(left.sum())


def _left_to_network(label: str, network, n: int) -> np.ndarray:
    """Which of n beats a group label ``label`` leaves to the network (its S beats under an N; none without
    ``network``, the network's letter per beat)."""
    return keeps_network_s(np.full(n, label), network) if network is not None else np.zeros(n, bool)


def confirm(review: Review, beats, shown, network=None) -> tuple[str, int, int]:
    """The reader agrees with a group of beats (a template): each takes the group's most common shown label
    (``shown``: the label each of ``beats`` shows now) as the reader's, as in ``relabel_template`` (an N group leaves
    the members the network reads as S to it); one undo step. Returns (that label, how many of the beats that took it
    showed another, how many were left as the network's S)."""
    shown = np.asarray(shown).astype(str)
    letters, counts = np.unique(shown, return_counts=True)
    if counts.size == 0:
        raise ValueError("no beats to confirm")
    label = str(letters[np.argmax(counts)])
    left = _left_to_network(label, network, shown.size)
    review.relabel(np.asarray(beats, dtype=np.int64)[~left], label)
    return label, int(((shown != label) & ~left).sum()), int(left.sum())


def shown_labels(model_labels, review: Review) -> tuple[np.ndarray, np.ndarray]:
    """(label (n,), label_by (n,)): the reader's label, else the adapted model's, else the model's."""
    label = np.asarray(model_labels).astype("<U1").copy()
    by = np.full(label.size, "model", dtype="<U7")
    has = review.adapted != ""
    label[has], by[has] = review.adapted[has], "adapted"
    has = review.reader != ""
    label[has], by[has] = review.reader[has], "reader"
    return label, by


def reviewed(a: Analysis, review: Review) -> Analysis:
    """``a`` with the reviewed labels: its table gains ``model_label`` and ``label_by`` ("model", "adapted",
    "reader", or "quality" for beats of unreadable stretches, ``analysis.mark_unreadable``), and its summary and
    agreement are recomputed from the shown labels (the arrays are shared, not copied)."""
    if review.n != len(a.table):
        raise ValueError(f"the review has {review.n} beats, the analysis {len(a.table)}")
    table = a.table.copy()
    table["model_label"] = a.table["label"]
    label, by = shown_labels(a.table["label"].to_numpy(), review)
    if "unreadable" in table:  # unreadable stretches stay Q (the quality check's label) unless the reader says
        keep = table["unreadable"].to_numpy() & (by != "reader")  # otherwise: then the beat counts again
        label[keep], by[keep] = "Q", "quality"
        table["unreadable"] = keep
    table["label"] = label
    table["label_by"] = by
    if review.adapted_probs is not None:  # where the adapted labels are shown: the adapted network's probability
        adapted = np.flatnonzero(by == "adapted")  # of the shown label (a template's label may not be its argmax)
        shown = np.array([AAMI_CLASSES.index(c) for c in label[adapted]], dtype=int)
        table.loc[table.index[adapted], "confidence"] = np.round(review.adapted_probs[adapted, shown], 4)
    return dataclasses.replace(a, table=table, summary=rhythm_summary(table, a.broken), agreement=agreement(table))


def record_templates(a: Analysis) -> Templates:
    """The beat templates of one analysis (``templates.beat_templates`` on its model inputs), split where the
    network's own labels (``network_label``: before the signal-quality check and any review) differ inside a
    template, so the reader is asked about each part: the same templates whatever the reader has done."""
    return beat_templates(a.waves, a.rr, labels=network_labels(a))


def adapt_to_review(model: torch.nn.Module, a: Analysis, review: Review, seed: int = 0,
                    keep_network_s: bool = KEEP_NETWORK_S) -> int:
    """Adapt to the reader's labels of this record and store the result in ``review`` (one undo step): the other
    beats of every template holding reader labels take the labelled beats' majority label
    (``adapt.propagate_by_template``); every other beat is labelled by a copy of ``model`` fine-tuned on the
    reader's and those template labels (``adapt.adapt_model``), and with KEEP_ABSENT on the shipped model's labels of
    the classes the reader labelled nowhere; with ``keep_network_s`` a template's N does not reach the beats the
    network reads as S (``adapt.keeps_network_s``). Returns how many beats not labelled by
    the reader now show a different label than before. Raises ValueError without reader labels."""
    labelled = np.flatnonzero(review.reader != "")
    if labelled.size == 0:
        raise ValueError("label some beats (or a template) first: adaptation learns from the reader's labels")
    index = {c: i for i, c in enumerate(AAMI_CLASSES)}
    labels = np.array([index[c] for c in review.reader[labelled]])
    af = a.table["af"].to_numpy(bool)
    network = network_labels(a)
    served = np.array([index[c] for c in network])
    # a template's label reaches its other beats, but not N to those the network reads as S (adapt.KEEP_NETWORK_S)
    voted, vote = propagate_by_template(record_templates(a).assignment, labelled, labels,
                                        network=served if keep_network_s else None)
    train_idx, train_labels = ((np.concatenate([labelled, voted]), np.concatenate([labels, vote]))
                               if TRAIN_ON_VOTES else (labelled, labels))
    adapted = adapt_model(model, a.waves, a.rr, train_idx, train_labels, af=af, seed=seed,
                          served=served if KEEP_ABSENT else None)
    probs = predict_inputs(adapted, a.waves, a.rr)
    pred = probs.argmax(axis=1)
    pred[voted] = vote  # a template the reader labelled beats of: its other beats take their label
    new = np.asarray(AAMI_CLASSES)[pred]
    before, _ = shown_labels(a.table["label"].to_numpy(), review)
    free = review.reader == ""
    changed = int((free & (new != before)).sum())
    card = {"record": a.record, "lead": a.lead, "beat_source": a.source, "reader_labels": int(labelled.size),
            "reader_labels_per_class": {c: int((review.reader == c).sum()) for c in AAMI_CLASSES},
            "method": "beats of templates holding reader labels take their majority label "
                      "(adapt.propagate_by_template" + ("; N not to the beats the network reads as S" if keep_network_s else "")
                      + "); the rest are labelled by a copy of the network whose "
                      + ("LSTM across beats and head were" if "beat_lstm" in ADAPT_PARTS else "head was")
                      + " fine-tuned on the reader's and the template labels (adapt.adapt_model: the per-beat "
                      "encoder" + ("" if "beat_lstm" in ADAPT_PARTS else " and the LSTM across beats") + " fixed)"
                      + (", and on the shipped model's labels of the classes the reader labelled nowhere "
                         "(adapt.with_absent_classes)" if KEEP_ABSENT else ""),
            "template_labelled_beats": int(voted.size), "adapted_parts": list(ADAPT_PARTS),
            "template_n_leaves_network_s": bool(keep_network_s),
            "seed": seed, "gate_kept": bool(float(adapted.af_threshold) > 0)}
    new = np.where(new != a.table["label"].to_numpy(), new, "")  # "adapted" marks the labels it changed
    review.set_adapted(new, probs, {k: v.detach().cpu().clone() for k, v in adapted.state_dict().items()}, card)
    return changed


def adapted_model_zip(review: Review, base_card: dict) -> bytes:
    """The adapted model as a zip: ``adapted.pt`` (state dict, load with ``torch.load(..., weights_only=True)``)
    and ``adapted.json`` (the shipped card's config and the adaptation's record, labels and settings)."""
    if review.adapted_state is None:
        raise ValueError("no adapted model yet")
    buf = io.BytesIO()
    weights = io.BytesIO()
    torch.save(review.adapted_state, weights)
    card = {"config": base_card.get("config"), "adapted_from": base_card.get("command"),
            "adaptation": review.adapted_card}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("adapted.pt", weights.getvalue())
        z.writestr("adapted.json", json.dumps(card, indent=2) + "\n")
    return buf.getvalue()
