"""Classifying beats: the one path from a Record (or a BeatSet) to per-beat class probabilities.

Used by train.py's evaluation, ``python -m ecgapp classify/evaluate`` and the app. Inputs are the beats of
ONE record in time order (``features.beat_inputs``): the sequence model labels each beat from it and its
neighbours, so batching never mixes records and a beat's label does not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from .aami import AAMI_CLASSES
from .beats import BeatSet
from .features import beat_inputs
from .quality import template_correlation


class Ruled(NamedTuple):
    """One record's output with the decision rule's masks (``return_rule=True``); unpacks as a 7-tuple.

    ``scores`` (n, 5) float32: logits (``predict_logits``) or probabilities (``predict_inputs``); then bool (n,)
    masks: ``af`` beats the AF detector read as atrial fibrillation (S not called there), ``on_time_v`` beats read
    as V that came on time (moved to N) and still labelled N after the rest of the rule (template consensus can give a
    gated beat its template's V back), ``by_template`` beats whose label template consensus changed from the
    network's own, ``sv_run`` beats the supraventricular run rule labelled S, ``far_shape`` beats read as S whose shape
    is far from every normal shape of the record, labelled V (``templates.far_shape_step``), ``on_time_s`` beats read as S
    that were neither early nor fast (moved to N: ``rhythm.apply_s_gate``) and still labelled N after the rest of the
    rule."""

    scores: np.ndarray
    af: np.ndarray
    on_time_v: np.ndarray
    by_template: np.ndarray
    sv_run: np.ndarray
    far_shape: np.ndarray
    on_time_s: np.ndarray


@torch.no_grad()
def embed_beats(model: torch.nn.Module, waves: np.ndarray, rr: np.ndarray, batch_size: int = 1024,
                progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """The per-beat network's output (``model.encode``) for one record's model inputs, (n, D) on the model's
    device, in batches of ``batch_size`` beats (most of the inference time). ``progress(fraction done)``."""
    model.eval()
    device = next(model.parameters()).device
    step = progress or (lambda done: None)
    n = len(waves)
    emb = []
    for i in range(0, n, batch_size):
        emb.append(model.encode(torch.from_numpy(np.ascontiguousarray(waves[i: i + batch_size])).to(device),
                                torch.from_numpy(np.ascontiguousarray(rr[i: i + batch_size])).to(device)))
        step(min(i + batch_size, n) / n)
    return torch.cat(emb)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, waves: np.ndarray, rr: np.ndarray, batch_size: int = 1024,
                   return_af: bool = False, progress: Callable[[float], None] | None = None,
                   return_rule: bool = False):
    """Logits (n, 5) float32 for one record's model inputs, with the whole decision rule: S lowered inside
    atrial fibrillation (the model's ``af_threshold``), V moved to N where a beat read as V comes on time (the
    model's ``v_gate``, ``rhythm.apply_v_gate``), S moved to N where a beat read as S is neither early nor fast (the
    model's ``s_gate``, ``rhythm.apply_s_gate``), offsets, temperature, then each beat's N, V, F and Q
    probabilities pulled towards its template's (the model's ``template_mix``, ``templates.template_consensus``
    over ``templates.beat_templates`` of these inputs; the logits are then log-probabilities), S moved to V for a
    beat whose shape is far from every normal one (the model's ``far_shape``), last N moved to S
    for the beats of a supraventricular run (the model's ``sv_run``, ``rhythm.sv_run_mask``). With ``return_af``
    also the bool (n,) mask of beats the AF detector read as atrial fibrillation (all False when the model has
    no gate); with ``return_rule`` a ``Ruled`` (the logits and every mask of the rule).
    ``progress(fraction done)`` is called after each batch of beats. Batches of 1,024 beats: faster on a CPU than
    4,096 (the activations stay in cache) and a quarter of the memory.
    """
    model.eval()
    n = len(waves)
    if n == 0:
        empty = np.zeros((0, len(AAMI_CLASSES)), np.float32)
        none = np.zeros(0, bool)
        return Ruled(empty, none, none, none, none, none, none) if return_rule else (empty, none) if return_af else empty
    device = next(model.parameters()).device
    step = progress or (lambda done: None)
    emb = embed_beats(model, waves, rr, batch_size, progress=lambda done: step(0.8 * done))
    index = model.context_index(n, device)
    raw = []
    for i in range(0, n, batch_size):
        raw.append(model.classify_raw(emb, index[i: i + batch_size]))
        step(0.8 + 0.2 * min(i + batch_size, n) / n)
    raw = torch.cat(raw)
    gated, af, on_time_v, on_time_s = model.gate(raw, np.asarray(rr))
    logits = model.calibrate(gated).float().cpu().numpy()
    logits, by_template, far_shape = model.consensus(logits, waves, rr)
    logits, sv_run = model.runs(logits, np.asarray(rr), af)
    still_n = logits.argmax(axis=1) == AAMI_CLASSES.index("N")
    on_time_v, on_time_s = on_time_v & still_n, on_time_s & still_n  # the gates' N still stands
    rule = Ruled(logits, af, on_time_v, by_template & ~sv_run & ~far_shape, sv_run, far_shape & ~sv_run, on_time_s)
    return rule if return_rule else (logits, af) if return_af else logits


def predict_inputs(model: torch.nn.Module, waves: np.ndarray, rr: np.ndarray, batch_size: int = 1024,
                   return_af: bool = False, progress: Callable[[float], None] | None = None,
                   return_rule: bool = False):
    """Class probabilities (n, 5) float32 for one record's model inputs (see features.beat_inputs); with
    ``return_af`` also the atrial-fibrillation mask, with ``return_rule`` a ``Ruled`` of the probabilities and
    the rule's masks (see predict_logits)."""
    rule = predict_logits(model, waves, rr, batch_size, progress=progress, return_rule=True)
    probs = torch.softmax(torch.from_numpy(rule.scores), dim=1).numpy()
    return rule._replace(scores=probs) if return_rule else (probs, rule.af) if return_af else probs


def predict_beats(model: torch.nn.Module, beats: BeatSet, return_af: bool = False):
    """Class probabilities (n, 5) for one record's beats (and the AF mask with ``return_af``)."""
    return predict_inputs(model, *beat_inputs(beats), return_af=return_af)


def beats_table(beats: BeatSet, probs: np.ndarray, af: np.ndarray | None = None,
                template_r: np.ndarray | None = None, on_time_v: np.ndarray | None = None,
                by_template: np.ndarray | None = None, sv_run: np.ndarray | None = None,
                far_shape: np.ndarray | None = None, on_time_s: np.ndarray | None = None) -> pd.DataFrame:
    """One row per beat: sample (at the record's own rate), time_s, label, confidence, p_N..p_Q, reference,
    af (True where the rhythm around the beat reads as atrial fibrillation: S is not called there),
    template_r (the beat's correlation with the record's dominant beat, ``quality.template_correlation``;
    NaN when not given) and on_time_v (True where the network read V but the beat comes on time, so the
    decision rule moved it to N: ``rhythm.apply_v_gate``) and by_template (True where the network alone read
    another class for this beat and its template's consensus gave the label: ``templates.template_consensus``) and
    sv_run (True where the beat read as N lies in a fast run that the network reads as supraventricular, so the
    rule labelled it S: ``rhythm.sv_run_mask``) and far_shape (True where the network read S but the beat's QRS shape
    is far from every normal shape of the record, so the rule labelled it V: ``templates.far_shape_step``) and on_time_s
    (True where the network read S but the beat is neither early against the local rhythm nor fast for the patient,
    so the rule labelled it N: ``rhythm.apply_s_gate``)."""
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    table = pd.DataFrame({
        "sample": beats.sample, "time_s": np.round(beats.time_s, 4),
        "label": np.asarray(AAMI_CLASSES)[pred] if len(pred) else np.array([], dtype=str),
        "confidence": np.round(probs.max(axis=1) if len(probs) else np.zeros(0), 4),
    })
    for k, cls in enumerate(AAMI_CLASSES):
        table[f"p_{cls}"] = np.round(probs[:, k], 4) if len(probs) else np.zeros(0)
    ref = np.where(beats.label >= 0, np.asarray(AAMI_CLASSES)[np.clip(beats.label, 0, None)], "")
    table["reference"] = ref
    table["af"] = np.zeros(len(table), bool) if af is None else np.asarray(af, bool)
    table["template_r"] = np.full(len(table), np.nan) if template_r is None else np.round(template_r, 3)
    table["on_time_v"] = np.zeros(len(table), bool) if on_time_v is None else np.asarray(on_time_v, bool)
    table["by_template"] = np.zeros(len(table), bool) if by_template is None else np.asarray(by_template, bool)
    table["sv_run"] = np.zeros(len(table), bool) if sv_run is None else np.asarray(sv_run, bool)
    table["far_shape"] = np.zeros(len(table), bool) if far_shape is None else np.asarray(far_shape, bool)
    table["on_time_s"] = np.zeros(len(table), bool) if on_time_s is None else np.asarray(on_time_s, bool)
    return table


def classify_beats(model: torch.nn.Module, beats: BeatSet, progress: Callable[[float], None] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """(waves, rr, table): one record's model inputs and its beats table (labels, probabilities, AF, on-time V and S,
    template and run masks, beat-template correlation), the path of the CLI, the app and evaluation alike.
    ``progress(fraction)``: see predict_logits."""
    waves, rr = beat_inputs(beats)
    rule = predict_inputs(model, waves, rr, progress=progress, return_rule=True)
    return waves, rr, beats_table(beats, rule.scores, rule.af, template_correlation(waves), rule.on_time_v,
                                  rule.by_template, rule.sv_run, rule.far_shape, rule.on_time_s)
