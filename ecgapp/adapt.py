"""Adapt the classifier to one patient from the beats a reader has labelled.

The shipped network is the same for every patient; a reader's labels on a few beats of this patient say what
its beats look like here. ``adapt_model`` fine-tunes a copy of the network on them in a few seconds on a CPU:

- the per-beat encoder (CNN and RR context) stays fixed, so every beat's embedding is computed once;
- the part that reads across beats (the LSTM across neighbours, the head: ``ADAPT_PARTS``) is trained on the labelled
  beats (cross-entropy, classes weighted by the inverse square root of their share, as in training), 100 full-batch
  Adam steps (the head alone, a light head on the fixed network, was no better on DS1 out of fold over five sets of
  fold networks: experiments rows 48, 48b); optionally (``keep_weight``) the beats nobody labelled are held to the
  shipped network's own probabilities by a KL term (off: on DS1, out of fold, it only held the corrections back);
- the AF gate stays unless the reader labelled supraventricular beats where it acts, the on-time V gate
  unless the reader labelled ventricular beats that come on time, and the on-time S gate unless the reader labelled
  supraventricular beats that are neither early nor fast (the reader's reading of the rhythm wins over the rule's).

``propagate_by_template`` gives the other beats of a template the label its reader-labelled beats agree on; the
app (``review.adapt_to_review``) uses both: template labels where a template holds reader labels, the network
(fine-tuned on the reader's and those template labels, and on the shipped model's labels of the classes the reader
labelled nowhere: ``with_absent_classes``) for the rest. The shipped weights are never touched:
the result is a new module (``copy.deepcopy``). Deterministic: a fixed seed, full-batch steps, no dropout.
Settings chosen on DS1 out of fold, measured on DS2: ``python -m benchmarks.bench_adapt``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .aami import AAMI_CLASSES
from .inference import embed_beats
from .rhythm import S_INDEX, V_INDEX, neither_early_nor_fast, on_time

ADAPT_STEPS = 100
ADAPT_LR = 3e-3
KEEP_WEIGHT = 0.0  # weight of a KL term holding unlabelled beats to the shipped probabilities: 0, 0.3 and 1 were
# tried on DS1 out of fold (benchmarks/results/adapt_ds1.md) and 0 was best in every protocol
ADAPT_PARTS = ("head", "beat_lstm")  # what is fine-tuned. The head alone (a light head on the fixed network) gained
# +0.011 macro-F1 on DS1 out of fold with seed 0's fold networks, but over seeds 0-4 +0.011 / -0.001 / +0.004 / -0.010 /
# -0.001 (experiments rows 48, 48b; `python -m benchmarks.bench_adapt --ds1 runs/hybrid/seed<k> --keep-absent
# --parts head [beat_lstm]`)
KEEP_NETWORK_S = False  # whether a template labelled N leaves the beats the network reads as S to it
# (``keeps_network_s``), as Holter software classifies a template's morphology and finds supraventricular premature
# beats beat by beat. Off: on DS1, out of fold, one label per template gained +0.011 SVEB F1 with seed 0's fold
# networks but -0.001 on average over seeds 0-4 (experiments rows 49, 49b); DS2, reported once, 0.840 -> 0.756. The app
# offers it as a box the reader may tick
MAX_LABELLED = 4000  # labelled beats used per step (evenly spaced per class beyond this)
MAX_KEEP = 1500  # unlabelled beats held to the shipped network per step (evenly spaced)


def _spread(idx: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` of ``idx``, evenly spaced (deterministic)."""
    if idx.size <= limit:
        return idx
    return idx[np.linspace(0, idx.size - 1, limit).astype(int)]


def adaptable_parameters(model: nn.Module, parts: tuple[str, ...] = ADAPT_PARTS) -> list[nn.Parameter]:
    """The parameters a patient adaptation trains: of ``parts``, the head and (hybrid) the LSTM across beats."""
    unknown = set(parts) - {"head", "beat_lstm"}
    if unknown or "head" not in parts:
        raise ValueError(f"adaptable parts are 'head' and 'beat_lstm', the head always: not {sorted(unknown) or parts}")
    chosen = [model.head] + ([model.beat_lstm] if "beat_lstm" in parts and getattr(model, "is_sequence", False)
                             else [])
    return [p for part in chosen for p in part.parameters()]


def adapt_model(model: nn.Module, waves: np.ndarray, rr: np.ndarray, labelled: np.ndarray, labels: np.ndarray,
                steps: int = ADAPT_STEPS, lr: float = ADAPT_LR, keep_weight: float = KEEP_WEIGHT,
                seed: int = 0, af: np.ndarray | None = None, served: np.ndarray | None = None,
                parts: tuple[str, ...] = ADAPT_PARTS) -> nn.Module:
    """A copy of ``model`` fine-tuned on this record's labelled beats (see the module docstring).

    ``waves``, ``rr``: the record's model inputs (``features.beat_inputs``, beats in time order);
    ``labelled``: indices of the labelled beats; ``labels``: their AAMI class indices (0-4);
    ``af``: the shipped model's AF mask (``inference.predict_logits(..., return_af=True)``), to tell whether
    the reader labelled S where the gate acts; ``served``: the shipped model's own labels (class indices, one per
    beat, decision rule included): the unlabelled beats it labels as a class absent from ``labels`` are trained on
    with that label too (``with_absent_classes``; -1 marks a beat not to use so), so the adapted network keeps what
    the reader did not speak to; ``parts``: what is trained (``adaptable_parameters``).
    Returns the adapted model in eval mode on ``model``'s device.
    """
    labelled = np.asarray(labelled, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if labelled.size != labels.size:
        raise ValueError("one label per labelled beat")
    if labelled.size == 0:
        raise ValueError("no labelled beats to adapt to")
    if labels.min() < 0 or labels.max() >= len(AAMI_CLASSES):
        raise ValueError(f"labels are class indices 0-{len(AAMI_CLASSES) - 1}")
    torch.manual_seed(seed)
    adapted = copy.deepcopy(model).eval()
    for p in adapted.parameters():
        p.requires_grad_(False)
    trainable = adaptable_parameters(adapted, parts)
    for p in trainable:
        p.requires_grad_(True)
    device = next(adapted.parameters()).device
    n = len(waves)
    emb = embed_beats(adapted, waves, rr)
    index = adapted.context_index(n, device)
    reader_labelled, reader_labels = labelled, labels
    if served is not None:
        labelled, labels = with_absent_classes(labelled, labels, served)
    # the labelled beats: at most MAX_LABELLED, spread over time within each class
    present = np.unique(labels)
    keep = np.concatenate([_spread(np.flatnonzero(labels == c), MAX_LABELLED // present.size) for c in present])
    chosen_t = torch.as_tensor(labelled[keep], device=device)
    target = torch.as_tensor(labels[keep], device=device)
    weight = torch.zeros(len(AAMI_CLASSES), device=device)
    counts = np.bincount(labels[keep], minlength=len(AAMI_CLASSES))
    # sqrt inverse-frequency class weights, as in training: a class with 2 labels among 40 is not made
    # as heavy as the other 38 (fully balanced weights made the adapted model over-call it)
    share = counts[present] / counts[present].sum()
    weight[torch.as_tensor(present, device=device)] = torch.as_tensor(
        1.0 / np.sqrt(share) / np.mean(1.0 / np.sqrt(share)), dtype=torch.float32, device=device)
    unlabelled = np.setdiff1d(np.arange(n), labelled)
    keep = torch.as_tensor(_spread(unlabelled, MAX_KEEP), device=device)
    with torch.no_grad():
        shipped = torch.log_softmax(model.classify_raw(emb, index[keep]), dim=1) if keep.numel() else None
    if getattr(adapted, "is_sequence", False):
        adapted.beat_lstm.train()  # no dropout in it; cuDNN only runs an LSTM backward in training mode
    optimiser = torch.optim.Adam(trainable, lr=lr)
    ce = nn.CrossEntropyLoss(weight=weight)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = ce(adapted.classify_raw(emb, index[chosen_t]), target)
        if shipped is not None and keep_weight > 0:
            now = torch.log_softmax(adapted.classify_raw(emb, index[keep]), dim=1)
            loss = loss + keep_weight * torch.sum(shipped.exp() * (shipped - now), dim=1).mean()
        loss.backward()
        optimiser.step()
    for p in adapted.parameters():
        p.requires_grad_(False)
    labelled, labels = reader_labelled, reader_labels  # the gates follow the reader's own labels
    if af is not None and np.any(np.asarray(af, bool)[labelled[labels == S_INDEX]]):
        adapted.af_threshold.zero_()  # the reader found S beats where the rule reads AF: no gate here
    gate = adapted.v_gate.tolist() if hasattr(adapted, "v_gate") else [0.0]
    if gate[0] > 0 and np.any(on_time(np.asarray(rr)[labelled[labels == V_INDEX]], *gate[:3])):
        adapted.v_gate.zero_()  # the reader found V beats that come on time (a slow ventricular rhythm): no V gate
    gate = adapted.s_gate.tolist() if hasattr(adapted, "s_gate") else [0.0]
    if gate[0] > 0 and np.any(neither_early_nor_fast(np.asarray(rr)[labelled[labels == S_INDEX]], *gate[:2])):
        adapted.s_gate.zero_()  # the reader found S beats that are neither early nor fast: no S gate
    return adapted.eval()


def with_absent_classes(labelled: np.ndarray, labels: np.ndarray, served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``labelled``, ``labels`` (the reader's beats and class indices) plus every other beat that ``served`` (the
    shipped model's labels, one class index per beat; -1: not to be used) gives a class the reader labelled nowhere,
    with that label.
    Fine-tuned on labels that lack a class, the network forgets it: on DS1, out of fold, a reader labelling the first 5
    minutes of 201, which hold no PVC, left none of the 196 PVCs the shipped model found after them
    (benchmarks/results/adapt_ds1.md); the reader's labels say nothing about that class, so the shipped model's
    labels of it stand."""
    served = np.asarray(served)
    others = np.setdiff1d(np.arange(served.size), labelled)
    take = others[np.isin(served[others], np.setdiff1d(np.arange(len(AAMI_CLASSES)), labels))]
    return np.concatenate([labelled, take]), np.concatenate([labels, served[take]])


def keeps_network_s(given, network) -> np.ndarray:
    """Mask of the beats whose template label ``given`` is N but which the network reads as S (``network``): the beats
    a template's N leaves to the network where a template is read as a shape (KEEP_NETWORK_S, the app's box). Both
    arrays of AAMI letters or both of class indices, one per beat."""
    given, network = np.asarray(given), np.asarray(network)
    n, s = ("N", "S") if given.dtype.kind == "U" else (AAMI_CLASSES.index("N"), S_INDEX)
    return (given == n) & (network == s)


def propagate_by_template(assignment: np.ndarray, labelled: np.ndarray, labels: np.ndarray,
                          min_share: float = 0.8, network: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels for the unlabelled beats of templates that hold labelled beats: the labelled members' majority
    label, when at least ``min_share`` of them agree (a template whose labelled beats disagree is left to the
    network). ``assignment``: each beat's template (``templates.Templates.assignment``); ``labelled``,
    ``labels``: indices and class indices of the reader's beats; ``network`` (class indices, one per beat): with
    it, a beat the network reads as S is not given N (``keeps_network_s``). Returns (beat indices, class indices)."""
    assignment = np.asarray(assignment)
    labelled = np.asarray(labelled, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    k = int(assignment.max()) + 1 if assignment.size else 0
    votes = np.zeros((k, len(AAMI_CLASSES)), int)
    np.add.at(votes, (assignment[labelled], labels), 1)
    total = votes.sum(axis=1)
    winner = votes.argmax(axis=1)
    sure = (total > 0) & (votes.max(axis=1) >= min_share * np.maximum(total, 1))
    free = np.ones(assignment.size, bool)
    free[labelled] = False
    idx = np.flatnonzero(free & sure[assignment])
    if network is not None:
        idx = idx[~keeps_network_s(winner[assignment[idx]], np.asarray(network)[idx])]
    return idx, winner[assignment[idx]]
