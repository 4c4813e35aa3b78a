"""Beat templates, as Holter software groups them: beats of one record and lead that share a shape and a timing.

A reader confirms or relabels a template instead of every beat in it. ``beat_templates`` groups a record's
beats by morphology (the QRS and early ST segment, -100 ms to +200 ms around the R peak, in the record-scaled
units of ``features.beat_inputs``, so a beat twice as tall as this patient's normal beat is a different shape)
and then keeps apart, within one shape, the beats that come early against the local rhythm or fast against the
patient's usual rate: an early narrow beat (a supraventricular premature beat) or one inside a run of
supraventricular tachycardia is not the same template as an on-time one of the same shape.

Morphology grouping is leader clustering on a strided sample of the beats (deterministic: no random draw),
then every beat goes to its nearest leader; beats farther than MATCH_DISTANCE from every leader start the
next round. Each template's median beat is recomputed from its members and the beats are reassigned once.
Linear in the number of beats: a 24-hour record's 100,000 beats take about a second
(``python -m benchmarks.bench_templates``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .aami import AAMI_CLASSES
from .beats import RR_FEATURES, WINDOW_BEFORE

MORPH_BEFORE = 36  # samples at MODEL_FS before the R peak read for the shape: 100 ms (QRS onset)
MORPH_AFTER = 72  # samples from the R peak on: 200 ms (QRS and early ST)
MORPH_STEP = 2  # every second sample (180 Hz is plenty for a QRS shape)
MATCH_DISTANCE = 0.5  # a beat joins a template when |beat - template| / |template| is below this
MIN_NORM = 0.3  # floor of |template| (record-scale units) so a flat template does not attract everything
EARLY_RR = 0.85  # pre RR over the local RR below this: the beat is early (premature) against the rhythm
FAST_RR = 0.75  # pre RR over the record's median RR below this: the beat is fast for this patient (a run of
# supraventricular tachycardia is not early against its own run, but it is against the patient's usual rate)
LEADER_SAMPLE = 2000  # beats per round that may start a template (evenly spaced through the record)
MAX_ROUNDS = 6
MAX_TEMPLATES = 60  # shapes beyond this go to their nearest template (noise makes shapes without end)
SPLIT_SHARE = 0.1  # with the network's labels: a label other than a template's commonest splits off as its own
SPLIT_BEATS = 5  # template when it holds at least this share of the template's beats and this many beats
_PRE_RR_LOCAL = RR_FEATURES.index("pre_rr_local")
_PRE_RR_NORM = RR_FEATURES.index("pre_rr_norm")
_N_INDEX = AAMI_CLASSES.index("N")
_S_INDEX = AAMI_CLASSES.index("S")
_V_INDEX = AAMI_CLASSES.index("V")
TIMINGS = ("on time", "early", "fast", "early, fast")  # a template's timing, by its code (early + 2 * fast)


@dataclass(frozen=True, eq=False)
class Templates:
    """The templates of one record's beats.

    ``assignment`` (n,) int: each beat's template, numbered by size (0 = the most beats);
    ``median`` (k, L) float32: each template's median beat (the whole window, record-scaled units of
    ``features.beat_inputs``: 1.0 = this patient's typical beat height); ``count`` (k,); ``timing`` (k,) int:
    an index into TIMINGS (early against the local rhythm, fast against the record's usual rate, both or
    neither); ``representative`` (k,): the member beat
    closest to the template's median (the one to show or ask a reader about); ``shape`` (k,): which
    morphology group the template belongs to (an early and an on-time template of one shape share it);
    ``gap`` (g, g) over the morphology groups (``shape`` indexes it): how far group a's median QRS lies from group
    b's, relative to b's (``shape_gaps``; shapes closer than MATCH_DISTANCE are one shape).
    """

    assignment: np.ndarray
    median: np.ndarray
    count: np.ndarray
    timing: np.ndarray
    representative: np.ndarray
    shape: np.ndarray
    split: np.ndarray  # (k,) AAMI letter: the network's label this template was split off by ("" = not split)
    gap: np.ndarray  # (g, g) float: distances between the record's morphology groups (``shape_gaps``)

    def __len__(self) -> int:
        return int(self.count.size)

    def members(self, template: int) -> np.ndarray:
        """Beat indices of one template, in time order (``template_sample`` for a dozen spread over them)."""
        return np.flatnonzero(self.assignment == template)

    def label_mix(self, labels) -> pd.DataFrame:
        """(k, 5) beats of each template per label (AAMI letters in ``labels``, one per beat)."""
        labels = np.asarray(labels).astype(str)
        mix = pd.DataFrame(0, index=pd.RangeIndex(len(self), name="template"), columns=list(AAMI_CLASSES))
        for c in AAMI_CLASSES:
            mix[c] = np.bincount(self.assignment[labels == c], minlength=len(self))
        return mix


def morphology(waves: np.ndarray) -> np.ndarray:
    """(n, d) float32: each beat's QRS and early ST (waves[:, 0], -100..+200 ms, every MORPH_STEP sample)."""
    w = np.asarray(waves, dtype=np.float32)
    beat = w[:, 0] if w.ndim == 3 else w
    return np.ascontiguousarray(beat[:, WINDOW_BEFORE - MORPH_BEFORE: WINDOW_BEFORE + MORPH_AFTER: MORPH_STEP])


def _relative_distance(x: np.ndarray, x2: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n, k) |x - centre| / max(|centre|, MIN_NORM), from squared norms (one matrix product)."""
    c2 = np.einsum("kd,kd->k", centres, centres)
    d2 = np.maximum(x2[:, None] - 2.0 * (x @ centres.T) + c2[None, :], 0.0)
    return np.sqrt(d2) / np.maximum(np.sqrt(c2), MIN_NORM)[None, :]


def _leaders(x: np.ndarray, threshold: float) -> list[int]:
    """Leader clustering of the rows of ``x`` in order: a row farther than ``threshold`` from every leader so far
    becomes a leader. Returns the leaders' row indices."""
    leaders: list[int] = []
    centres = np.zeros((0, x.shape[1]), np.float32)
    for i in range(len(x)):
        if centres.shape[0]:
            d = _relative_distance(x[i: i + 1], np.einsum("d,d->", x[i], x[i])[None], centres)[0]
            if d.min() <= threshold:
                continue
        leaders.append(i)
        centres = np.vstack([centres, x[i: i + 1]])
    return leaders


def _shapes(x: np.ndarray, threshold: float, max_shapes: int) -> np.ndarray:
    """Morphology group (n,) of each row of ``x``: leader rounds, then one median refinement."""
    n = len(x)
    x2 = np.einsum("nd,nd->n", x, x)
    centres = np.zeros((0, x.shape[1]), np.float32)
    left = np.arange(n)
    for _ in range(MAX_ROUNDS):
        if left.size == 0 or centres.shape[0] >= max_shapes:
            break
        sample = left[np.linspace(0, left.size - 1, min(LEADER_SAMPLE, left.size)).astype(int)]
        new = x[sample[_leaders(x[sample], threshold)]][: max_shapes - centres.shape[0]]
        centres = np.vstack([centres, new])
        d = _relative_distance(x[left], x2[left], centres)
        left = left[d.min(axis=1) > threshold]
    shape = _relative_distance(x, x2, centres).argmin(axis=1)
    medians = np.stack([np.median(x[shape == s], axis=0) if (shape == s).any() else centres[s]
                        for s in range(centres.shape[0])])
    return _relative_distance(x, x2, medians.astype(np.float32)).argmin(axis=1)


def shape_gaps(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """(g, g) float, g = max(shape) + 1: entry [a, b] is |median a - median b| / max(|median b|, MIN_NORM), the
    medians of the rows of ``x`` (``morphology``) in each morphology group; a group left without beats is infinitely
    far from every other."""
    count = np.bincount(shape)
    medians = np.zeros((count.size, x.shape[1]), np.float32)
    for g in np.flatnonzero(count):
        medians[g] = np.median(x[shape == g], axis=0)
    gap = _relative_distance(medians, np.einsum("kd,kd->k", medians, medians), medians).astype(float)
    gap[count == 0, :] = gap[:, count == 0] = np.inf
    np.fill_diagonal(gap, 0.0)
    return gap


def timing(rr: np.ndarray, early_rr: float = EARLY_RR, fast_rr: float = FAST_RR) -> np.ndarray:
    """Each beat's timing code (n,) int, an index into TIMINGS: early (pre RR under ``early_rr`` of the local
    RR) + 2 * fast (pre RR under ``fast_rr`` of the record's median RR); ``rr`` from ``features.beat_inputs``."""
    rr = np.asarray(rr, dtype=np.float32)
    return (rr[:, _PRE_RR_LOCAL] < early_rr).astype(int) + 2 * (rr[:, _PRE_RR_NORM] < fast_rr)


def beat_templates(waves: np.ndarray, rr: np.ndarray, threshold: float = MATCH_DISTANCE,
                   early_rr: float = EARLY_RR, fast_rr: float = FAST_RR,
                   max_templates: int = MAX_TEMPLATES, labels=None, split_share: float = SPLIT_SHARE,
                   split_beats: int = SPLIT_BEATS) -> Templates:
    """Group one record's beats into templates (see the module docstring).

    ``waves`` (n, 2, L) or (n, L) and ``rr`` (n, 10) from ``features.beat_inputs`` (beats in time order);
    ``threshold``: relative distance under which a beat matches a template's shape; ``early_rr``: pre RR over
    local RR under which a beat is early. ``labels`` (optional, one AAMI letter per beat: the network's): a
    template whose beats the network labels differently is split by those labels where a label other than the
    template's commonest holds at least ``split_share`` of its beats and at least ``split_beats`` beats, so that
    the reader is asked about each part (``Templates.split``). Deterministic: the same beats give the same templates.
    """
    w = np.asarray(waves, dtype=np.float32)
    n = len(w)
    full = w[:, 0] if w.ndim == 3 else w
    if n == 0:
        empty = np.zeros(0, int)
        return Templates(empty, np.zeros((0, full.shape[-1]), np.float32), empty, empty, empty, empty,
                         np.zeros(0, "<U1"), np.zeros((0, 0)))
    x = morphology(w)
    shape = _shapes(x, threshold, max_templates)
    gap = shape_gaps(x, shape)
    key = shape * len(TIMINGS) + timing(rr, early_rr, fast_rr)
    part = np.zeros(n, int)  # 0: the template's commonest label and the labels too rare to split off; c + 1: label c
    if labels is not None:
        letters = np.asarray(labels).astype("<U1")
        code = np.zeros(n, int)  # AAMI index of each beat's label
        for i, c in enumerate(AAMI_CLASSES):
            code[letters == c] = i
        _, group = np.unique(key, return_inverse=True)
        mix = np.zeros((group.max() + 1, len(AAMI_CLASSES)), int)
        np.add.at(mix, (group, code), 1)
        apart = (mix >= split_beats) & (mix >= split_share * mix.sum(axis=1, keepdims=True))
        apart[np.arange(len(mix)), mix.argmax(axis=1)] = False
        split_off = apart[group, code]
        part[split_off] = code[split_off] + 1
    key = key * (len(AAMI_CLASSES) + 1) + part
    keys, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
    order = np.lexsort((keys, -count))  # by size, ties by key: deterministic
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    assignment = rank[inverse]
    k = keys.size
    medians = np.empty((k, full.shape[-1]), np.float32)
    representative = np.empty(k, int)
    for t in range(k):
        idx = np.flatnonzero(assignment == t)
        medians[t] = np.median(full[idx], axis=0)
        representative[t] = idx[np.argmin(np.abs(full[idx] - medians[t]).sum(axis=1))]
    kept, part_of = keys[order] // (len(AAMI_CLASSES) + 1), keys[order] % (len(AAMI_CLASSES) + 1)
    # a template split by the network's labels names the label its part was split off by; the part left
    # over (the commonest label) names that label when any part was split off its shape and timing
    split = np.where(part_of > 0, np.asarray(AAMI_CLASSES)[np.maximum(part_of - 1, 0)], "").astype("<U1")
    rest = (part_of == 0) & np.isin(kept, kept[part_of > 0])
    for t in np.flatnonzero(rest):
        split[t] = AAMI_CLASSES[np.bincount(code[assignment == t], minlength=len(AAMI_CLASSES)).argmax()]
    return Templates(assignment=assignment.astype(int), median=medians, count=count[order].astype(int),
                     timing=(kept % len(TIMINGS)).astype(int), representative=representative,
                     shape=(kept // len(TIMINGS)).astype(int), split=split, gap=gap)


def template_sample(templates: Templates, template: int, limit: int = 12) -> np.ndarray:
    """Up to ``limit`` beats of ``template`` spread evenly over its members in time (beat indices): what its
    beats look like across the record, outliers included."""
    idx = templates.members(template)
    if idx.size <= limit:
        return idx
    return idx[np.unique(np.linspace(0, idx.size - 1, limit).round().astype(int))]


def median_beats(windows: np.ndarray, templates: Templates) -> np.ndarray:
    """(k, L) float32: each template's median beat in the units of ``windows`` (mV for ``BeatSet.windows``),
    for drawing on calibrated paper."""
    w = np.asarray(windows, dtype=np.float32)
    out = np.zeros((len(templates), w.shape[-1]), np.float32)
    for t in range(len(templates)):
        out[t] = np.median(w[templates.assignment == t], axis=0)
    return out


def template_title(templates: Templates, template: int, split: bool = True) -> str:
    """``T3: 412 beats, early`` (the timing only when not on time), ``..., model's S`` for a template split by
    the network's labels (``beat_templates(labels=...)``; left out with ``split=False``): check it, the network
    labels its shape two ways."""
    when = f", {TIMINGS[templates.timing[template]]}" if templates.timing[template] else ""
    split = f", model's {templates.split[template]}" if split and templates.split[template] else ""
    return f"T{template + 1}: {counted(templates.count[template], 'beat')}{when}{split}"


def describe(templates: Templates, template: int, labels) -> str:
    """A short name for a template: ``T3: 412 beats, early, mostly V (98%)`` (``labels``: one letter per beat)."""
    members = np.asarray(labels).astype(str)[templates.assignment == template]
    letters, counts = np.unique(members, return_counts=True)
    top = int(np.argmax(counts)) if counts.size else 0
    mostly = f", mostly {letters[top]} ({100 * counts[top] / counts.sum():.0f}%)" if counts.size else ""
    return template_title(templates, template) + mostly


def counted(n: int, noun: str) -> str:
    """``1 beat``, ``412 beats``, ``1,203 beats``: a count and its noun, plural when not 1."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def template_consensus(probs: np.ndarray, assignment: np.ndarray, weight: float,
                       ventricular: bool = True, shapes: tuple | None = None, far: float = 0.0) -> np.ndarray:
    """Each beat's class probabilities (n, 5) pulled towards its template's, as Holter software labels a template
    rather than each beat: the N, V, F and Q probabilities become ``(1 - weight) * own + weight * the template's
    mean``, rescaled so that they add up, with S, the beat's own probability, to 1.

    S stays the beat's own: a supraventricular beat differs from its neighbours of the same shape by its timing
    and P wave, which the network reads beat by beat (the templates keep early beats apart only when they are
    early against the local rhythm). The template's mean is over all its members, the beat included.
    One exception (``ventricular``): a beat whose best class is then S, in a template whose mean probabilities
    (after the pull) read V, has its S probability moved to V: the shape tells V from S, and a premature PVC that
    the network half-read as S is one of a template of PVCs (experiments row 31).
    Then (``far`` > 0, with ``shapes``: see ``far_shape_step``) a beat whose best class is S and whose shape lies
    farther than ``far`` from every normal shape of the record has its S probability moved to V: a supraventricular
    beat is conducted as this patient's normal beats are, so its QRS has their shape unless aberrant, while a
    premature beat of another shape, or a fast run of them, is ventricular until shown otherwise (experiments row
    38; 0 = off).
    ``assignment`` (n,) int: each beat's template (``beat_templates(...).assignment``, without labels);
    ``weight`` 0 leaves the probabilities as they are (float64), 1 gives every member its template's N/V/F/Q mix.
    """
    p = np.asarray(probs, dtype=np.float64)
    out = _pulled(p, assignment, weight, ventricular) if weight > 0 and len(p) else p.copy()
    return far_shape_step(out, shapes, far)[0]


def far_shape_step(probs: np.ndarray, shapes: tuple | None, far: float,
                   read_normal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, bool (n,) mask of the beats it made V): ``template_consensus``'s last step on (n, 5)
    ``probs`` (modified in place). ``shapes`` = (shape (n,) int: each beat's morphology group, gap (G, G):
    ``Templates.gap``; several records' groups can be stacked block-diagonally with infinite gaps between records).
    A record's normal shapes are its groups whose beats are mostly read as N (``read_normal``) and the group holding
    most of its beats; a beat whose best class is S and whose group lies farther than ``far`` from every normal
    shape has its S probability moved to V. ``far`` 0 or no ``shapes``: off."""
    if far <= 0 or shapes is None or len(probs) == 0:
        return probs, np.zeros(len(probs), bool)
    shape, gap = np.asarray(shapes[0]), np.asarray(shapes[1])
    best = probs.argmax(axis=1)
    votes = np.zeros((len(gap), probs.shape[1]))
    np.add.at(votes, (shape, best), 1)
    beats = votes.sum(axis=1)
    normal = (votes.argmax(axis=1) == _N_INDEX) & (beats > 0) if read_normal else np.zeros(len(gap), bool)
    normal[np.where(np.isfinite(gap), beats[None, :], -1).argmax(axis=1)] = True  # each record's commonest shape
    farthest = np.where(normal[None, :], gap, np.inf).min(axis=1)  # each group's gap to the nearest normal shape
    moved = (best == _S_INDEX) & (farthest[shape] > far)
    probs[moved, _V_INDEX] += probs[moved, _S_INDEX]
    probs[moved, _S_INDEX] = 0.0
    return probs, moved


def _pulled(p: np.ndarray, assignment: np.ndarray, weight: float, ventricular: bool) -> np.ndarray:
    """``template_consensus``'s pull towards the template's mean and its "no S in a template that reads V" step."""
    assignment = np.asarray(assignment)
    _, group = np.unique(assignment, return_inverse=True)
    sums = np.zeros((group.max() + 1, p.shape[1]))
    np.add.at(sums, group, p)
    mixed = (1.0 - weight) * p + weight * (sums / np.bincount(group)[:, None])[group]
    own = _S_INDEX
    rest = np.ones(p.shape[1], bool)
    rest[own] = False
    scale = (1.0 - p[:, own]) / np.maximum(mixed[:, rest].sum(axis=1), 1e-12)
    out = np.empty_like(p)
    out[:, rest] = mixed[:, rest] * scale[:, None]
    out[:, own] = p[:, own]
    if ventricular:
        sums = np.zeros((group.max() + 1, p.shape[1]))
        np.add.at(sums, group, out)
        moved = (out.argmax(axis=1) == own) & (sums.argmax(axis=1)[group] == _V_INDEX)
        out[moved, _V_INDEX] += out[moved, own]
        out[moved, own] = 0.0
    return out


def consensus_probabilities(logits: np.ndarray, assignment: np.ndarray, weight: float,
                            ventricular: bool = True, shapes: tuple | None = None,
                            far: float = 0.0) -> np.ndarray:
    """Served probabilities (n, 5) float64 from one record's calibrated logits: their softmax, then
    ``template_consensus`` over ``assignment`` at ``weight``, then its far-shape step (``shapes``, ``far``) (the one
    path of serving, ``model.consensus``, and of cross-validation, ``train.served``)."""
    z = np.asarray(logits, dtype=np.float64)
    if len(z) == 0:
        return z.copy()
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return template_consensus(p / p.sum(axis=1, keepdims=True), assignment, weight, ventricular, shapes, far)
