"""Why the model labelled a beat: Captum attributions over the beat waveform and its RR context.

``explain_beat`` attributes one class's logit to the beat's own inputs, the normalised 256-sample beat
window (0.711 s at 360 Hz, R peak at 0.25 s) and its 10 RR-interval features, against a neutral reference
input: a flat line (the beat's median level) and this patient's usual rhythm (every RR interval equal to
the record's median). What the model reads beside the beat is held fixed: the record's dominant beat
(template) and, for the sequence model, the neighbouring beats. Methods:

- ``Occlusion`` (default, the most faithful in a deletion test: ``benchmarks/bench_faithfulness.py``): replace
  50 ms of the beat (or one RR feature) by the reference and record how much the logit drops (signed).
- ``Integrated Gradients``: path integral of gradients from that reference to the beat; the
  attributions add up to the change in the logit (signed: positive supports the class, negative argues
  against it).
- ``Saliency``: absolute gradient at the beat (how sensitive the logit is to each sample; unsigned).

``summarise_regions`` splits an attribution over the P wave, QRS complex, ST-T segment and RR context,
and ``reading`` turns that into a few plain sentences for a clinician.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .aami import AAMI_CLASSES
from .beats import RR_FEATURES, WINDOW_BEFORE, WINDOW_LENGTH
from .delineation import delineate
from .processing import MODEL_FS
from .rhythm import AF_GATE_PENALTY, N_INDEX, S_INDEX, move_class, v_to_n

METHODS = ("Occlusion", "Integrated Gradients", "Saliency")  # the first is the default: the most faithful by
# deletion curves on DS2 (benchmarks/bench_faithfulness.py: AUC 0.573 against 0.594 and 0.712; random order 0.742)
IG_STEPS = 64  # Riemann steps; tests/test_explain.py: attributions sum to the logit change within 2%
OCCLUSION_WINDOW = 18  # samples at 360 Hz = 50 ms, moved in steps of 9 samples (25 ms)

# Waveform regions, seconds relative to the R peak: found on each beat (``beat_regions``); these fixed ones
# are only the fallback of an explanation made without them.
WINDOW_START_S, WINDOW_END_S = -WINDOW_BEFORE / MODEL_FS, (WINDOW_LENGTH - WINDOW_BEFORE) / MODEL_FS
REGIONS_S: dict[str, tuple[float, float]] = {
    "pre-QRS": (WINDOW_START_S, -0.07),
    "QRS complex": (-0.07, 0.09),
    "ST-T segment": (0.09, WINDOW_END_S),
}
RR_REGION = "RR-interval context"


def beat_regions(wave: np.ndarray, pre_rr_s: float | None = None) -> dict[str, tuple[float, float]]:
    """The regions of one beat window, from the beat itself (``delineation.delineate``): "P wave" (from the P
    wave's start to QRS onset: it holds the PR segment) only when a P wave is found, else "pre-QRS" (the
    window's start to QRS onset); "QRS complex" (onset to offset); "ST-T segment" (offset to the window's end).
    Seconds from the R peak, in time order, covering the whole window."""
    d = delineate(wave, pre_rr_s=pre_rr_s)
    onset, offset = d["qrs_onset_s"], d["qrs_offset_s"]
    regions = {}
    if d["p_wave"] is not None:
        if d["p_wave"][0] > WINDOW_START_S:
            regions["pre-QRS"] = (WINDOW_START_S, d["p_wave"][0])
        regions["P wave"] = (d["p_wave"][0], onset)
    else:
        regions["pre-QRS"] = (WINDOW_START_S, onset)
    regions["QRS complex"] = (onset, offset)
    regions["ST-T segment"] = (offset, WINDOW_END_S)
    return regions


CLASS_NAMES = {
    "N": "normal (or bundle branch block / escape) beat",
    "S": "supraventricular ectopic beat",
    "V": "ventricular ectopic beat",
    "F": "fusion of ventricular and normal beat",
    "Q": "unclassifiable beat",
}


@dataclass(frozen=True, eq=False)
class BeatExplanation:
    """One beat's attribution. Arrays: ``time_s`` (256,) seconds from the R peak; ``wave`` (256,) the
    normalised beat the model read (record-scaled units); ``wave_attribution`` (256,); ``rr`` (10,) the RR
    features (columns ``beats.RR_FEATURES``) and ``rr_attribution`` (10,). ``target`` is the class letter
    explained, ``probabilities`` the model's class probabilities for the beat (the served ones: inside atrial
    fibrillation, ``in_af``, with S lowered by the AF gate, as in the beats table)."""

    method: str
    target: str
    probabilities: dict[str, float]
    time_s: np.ndarray
    wave: np.ndarray
    wave_attribution: np.ndarray
    rr: np.ndarray
    rr_attribution: np.ndarray
    in_af: bool = False
    on_time_v: bool = False  # the network read V, the beat comes on time: the rule moved V to N (rhythm.apply_v_gate)
    by_template: bool = False  # the network alone read another class; the beat's template gave its label
    sv_run: bool = False  # read as N inside a fast run the network reads as supraventricular: the rule made it S
    far_shape: bool = False  # read as S, its QRS shape far from every normal one: the rule made it V
    on_time_s: bool = False  # read as S, neither early nor fast: the rule moved S to N (rhythm.apply_s_gate)
    network_probabilities: dict | None = None  # the network's own (gates, temperature) when ``probabilities`` are
    # the served ones (template consensus included: templates.template_consensus); None: the same
    regions: dict = None  # name -> (start, end) seconds from R (``beat_regions``); REGIONS_S when not given

    def __post_init__(self):
        if self.regions is None:
            object.__setattr__(self, "regions", dict(REGIONS_S))

    @property
    def predicted(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)


def rr_reference(rr: np.ndarray) -> np.ndarray:
    """The "usual rhythm" reference for RR features (n, 10): every interval equal to the record's median RR.

    Seconds columns become the median RR (recovered as pre_rr_s / pre_rr_norm), ratio columns 1.0 and the
    irregularity 0.
    """
    rr = np.asarray(rr, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        median = np.where(rr[:, 3] > 0, rr[:, 0] / rr[:, 3], 1.0)
    ref = np.ones_like(rr)
    ref[:, :3] = np.nan_to_num(median, nan=1.0, posinf=1.0)[:, None]
    ref[:, RR_FEATURES.index("rr_irregularity")] = 0.0
    return ref


def _cudnn_off(device: torch.device):
    """Gradients through an LSTM in eval mode need cuDNN off on CUDA; a no-op context on CPU."""
    return torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" else torch.enable_grad()


def _beat_function(model: torch.nn.Module, template: torch.Tensor | None, context: tuple | None):
    """f(beat (S, 1, L), rr (S, 8)) -> logits (S, 5) of that beat, everything else held fixed: the record's
    template beside it and, for the sequence model, the embeddings of its neighbours."""
    def f(w: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        x = w if template is None else torch.cat([w, template.expand(w.shape[0], 1, -1)], dim=1)
        if context is None:
            return model.classify_context(model.encode(x, r)[:, None])
        neighbours, positions = context
        ctx = neighbours.expand(w.shape[0], -1, -1).clone()
        ctx[:, positions] = model.encode(x, r)[:, None, :]
        return model.classify_context(ctx)
    return f


def explain_inputs(model: torch.nn.Module, wave: np.ndarray, rr: np.ndarray, method: str = METHODS[0],
                   target: str | int | None = None, context: tuple[np.ndarray, np.ndarray, int] | None = None,
                   in_af: bool = False, on_time_v: bool = False, served=None,
                   by_template: bool = False, sv_run: bool = False, far_shape: bool = False,
                   on_time_s: bool = False) -> BeatExplanation:
    """Attribute the logit of ``target`` (class letter or index; None = the predicted class) for one beat.

    ``wave``: (C, WINDOW_LENGTH) or (1, C, WINDOW_LENGTH) normalised beat (channel 1, when there, the
    record's template) and ``rr``: (10,) RR features, as ``features.beat_inputs`` makes them (the one input
    path of training and serving). Attributions are to the beat (channel 0) and its RR features; the
    template is held fixed. A sequence model also needs ``context`` = (waves, rr, index): the record's
    inputs and this beat's index in them, whose neighbours are held fixed (``explain_beat`` passes them).
    ``in_af``: the beat lies where the rhythm reads as atrial fibrillation (the beats table's ``af``): the AF
    gate's constant penalty on S is applied as in serving. A constant does not change any attribution; it
    changes the probabilities and the predicted class, which then match the table. ``on_time_v``: the beats
    table's ``on_time_v`` (the network read V, the beat comes on time): V's probability moves to N as in serving
    (``rhythm.v_to_n``), so the served N score is explained; V's attribution is the network's own (a constant
    apart). ``served``: the beat's served probabilities (the beats table's p_N..p_Q), when serving pulled them
    towards the beat's template (``templates.template_consensus``, which reads the whole record): they are the
    ones shown and the predicted class is theirs; the attribution stays the network's own score for the target
    (the template's other beats are not inputs of this beat). ``by_template``, ``sv_run``, ``far_shape``: the table's
    columns (``sv_run``: the beat lies in a supraventricular run and the rule moved its N probability to S;
    ``far_shape``: its shape is far from every normal one of the record and the rule moved its S probability to V; the
    ``served`` probabilities show both). ``on_time_s``: the table's column (the network read S, the beat is neither
    early nor fast): S's probability moves to N as in serving (``rhythm.move_class``), like ``on_time_v``.
    """
    from captum.attr import IntegratedGradients, Occlusion, Saliency

    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    model.eval()
    device = next(model.parameters()).device
    wave = np.asarray(wave, dtype=np.float32)
    wave = wave.reshape(-1, wave.shape[-1])
    w = torch.as_tensor(wave[None, :1], device=device)
    template = torch.as_tensor(wave[None, 1:2], device=device) if model.config.in_channels == 2 else None
    if template is not None and template.shape[1] == 0:
        raise ValueError("this model reads the beat beside the record's template: pass features.beat_inputs rows")
    r = torch.as_tensor(np.asarray(rr, dtype=np.float32).reshape(1, -1), device=device)
    ctx = None
    if getattr(model, "is_sequence", False):
        if context is None:
            raise ValueError("the sequence model labels a beat from its neighbours: use explain_beat")
        waves_all, rr_all, index = context
        idx = model.context_index(len(waves_all))[index].numpy()
        with torch.no_grad():
            neighbours = model.encode(torch.as_tensor(np.ascontiguousarray(waves_all[idx]), device=device),
                                      torch.as_tensor(np.ascontiguousarray(rr_all[idx]), device=device))[None]
        ctx = (neighbours, torch.as_tensor(np.flatnonzero(idx == index), device=device))
    network = _beat_function(model, template, ctx)
    gate = torch.zeros(len(AAMI_CLASSES), device=device)
    if in_af and float(getattr(model, "af_threshold", 0.0)) > 0:
        gate[S_INDEX] = AF_GATE_PENALTY  # on the raw logits, as in model.forward
    temperature, bias = float(model.temperature), model.logit_bias.to(device)

    def f(*inputs):
        raw = network(*inputs) * temperature - bias - gate  # the head's raw logits, then the decision rule
        if on_time_v:
            raw = v_to_n(raw)
        if on_time_s:
            raw = move_class(raw, None, S_INDEX, N_INDEX)
        return (raw + bias) / temperature
    w0 = torch.zeros_like(w)
    r0 = torch.as_tensor(rr_reference(r.cpu().numpy()), device=device)
    with torch.no_grad():
        probs = torch.softmax(f(w, r).float(), dim=1)[0].cpu().numpy()
    network_probs = None
    if served is not None:
        network_probs = {c: float(p) for c, p in zip(AAMI_CLASSES, probs)}
        probs = np.asarray(served, dtype=np.float64).reshape(-1)
        if probs.size != len(AAMI_CLASSES):
            raise ValueError(f"served: one probability per class ({len(AAMI_CLASSES)}), got {probs.size}")
    if target is None:
        k = int(probs.argmax())
    elif isinstance(target, str):
        if target not in AAMI_CLASSES:
            raise ValueError(f"unknown class {target!r}; choose one of {', '.join(AAMI_CLASSES)}")
        k = AAMI_CLASSES.index(target)
    else:
        k = int(target)
    with _cudnn_off(device):
        if method == "Integrated Gradients":
            attr = IntegratedGradients(f).attribute((w, r), baselines=(w0, r0), target=k, n_steps=IG_STEPS,
                                                    internal_batch_size=IG_STEPS)
        elif method == "Saliency":
            attr = Saliency(f).attribute((w.clone().requires_grad_(), r.clone().requires_grad_()), target=k,
                                         abs=True)
        else:  # one input at a time, the other at its value (what one joint run computes): captum 0.9 makes
            # the masks of a batch that spans both inputs on the CPU, which fails for a model on CUDA
            attr = (Occlusion(lambda wb: f(wb, r.expand(wb.shape[0], -1))).attribute(
                        w, sliding_window_shapes=(1, OCCLUSION_WINDOW), strides=(1, OCCLUSION_WINDOW // 2),
                        baselines=w0, target=k, perturbations_per_eval=64),
                    Occlusion(lambda rb: f(w.expand(rb.shape[0], -1, -1), rb)).attribute(
                        r, sliding_window_shapes=(1,), strides=(1,), baselines=r0, target=k,
                        perturbations_per_eval=64))
    wa, ra = (a.detach().float().cpu().numpy().reshape(-1) for a in attr)
    n = w.shape[-1]
    return BeatExplanation(
        method=method, target=AAMI_CLASSES[k],
        probabilities={c: float(p) for c, p in zip(AAMI_CLASSES, probs)},
        time_s=(np.arange(n) - WINDOW_BEFORE) / MODEL_FS, wave=w.cpu().numpy().reshape(-1),
        wave_attribution=wa, rr=r.cpu().numpy().reshape(-1), rr_attribution=ra, in_af=bool(in_af and gate.any()),
        on_time_v=bool(on_time_v), by_template=bool(by_template), sv_run=bool(sv_run), far_shape=bool(far_shape),
        on_time_s=bool(on_time_s),
        network_probabilities=network_probs,
        regions=beat_regions(wave[0], pre_rr_s=float(np.asarray(rr).reshape(-1)[RR_FEATURES.index("pre_rr_s")])),
    )


def explain_beat(model: torch.nn.Module, waves: np.ndarray, rr: np.ndarray, index: int,
                 method: str = METHODS[0], target: str | int | None = None, in_af: bool = False,
                 on_time_v: bool = False, served=None, by_template: bool = False,
                 sv_run: bool = False, far_shape: bool = False, on_time_s: bool = False) -> BeatExplanation:
    """Explain beat ``index`` of one record's model inputs (``features.beat_inputs(beats)``): the beat's own
    waveform and RR features are attributed; its template and (sequence model) neighbours are held fixed.
    ``in_af``, ``on_time_v``, ``by_template``, ``sv_run``, ``far_shape``, ``on_time_s``, ``served`` (p_N..p_Q): the beats table's
    columns for this beat (see explain_inputs)."""
    if not 0 <= index < len(waves):
        raise IndexError(f"beat {index} out of range: the record has {len(waves)} beats")
    return explain_inputs(model, waves[index], rr[index], method=method, target=target,
                          context=(waves, rr, index), in_af=in_af, on_time_v=on_time_v, served=served,
                          by_template=by_template, sv_run=sv_run, far_shape=far_shape, on_time_s=on_time_s)


def summarise_regions(expl: BeatExplanation) -> dict[str, dict[str, float]]:
    """How the attribution splits over the beat's regions (``expl.regions``: P wave when one was found, else
    pre-QRS; QRS complex; ST-T segment) and the RR context.

    For each region: ``share`` = its part of the total absolute attribution (the shares add up to 1) and
    ``net`` = its signed sum (> 0: that region supports the explained class; always >= 0 for Saliency).
    """
    regions = {}
    for name, (lo, hi) in expl.regions.items():
        m = (expl.time_s >= lo) & (expl.time_s < hi)
        if name == "ST-T segment":
            m |= expl.time_s >= hi
        regions[name] = expl.wave_attribution[m]
    regions[RR_REGION] = expl.rr_attribution
    total = float(sum(np.abs(a).sum() for a in regions.values()))
    return {name: {"share": float(np.abs(a).sum()) / total if total > 0 else 0.0, "net": float(a.sum())}
            for name, a in regions.items()}


def reading(expl: BeatExplanation) -> list[str]:
    """A few plain sentences for a clinician: the decision, where the evidence lies, and the rhythm facts."""
    probs = expl.probabilities
    pred = expl.predicted
    lines = [f"The model labels this beat **{pred}** ({CLASS_NAMES[pred]}) with {100 * probs[pred]:.0f}% "
             f"probability" + (f"; the runner-up is {_runner_up(probs)}." if len(probs) > 1 else ".")]
    regions = summarise_regions(expl)
    ordered = sorted(regions.items(), key=lambda kv: -kv[1]["share"])
    signed = expl.method != "Saliency"
    parts = []
    for name, r in ordered:
        if r["share"] < 0.005:
            continue
        direction = "" if not signed else (", for" if r["net"] > 0 else ", against")
        parts.append(f"{name} {100 * r['share']:.0f}%{direction}")
    what = "sensitivity of" if not signed else "evidence about"
    lines.append(f"{expl.method}: the {what} class {expl.target} splits as " + "; ".join(parts) + ".")
    top = ordered[0][0]
    if top == RR_REGION:
        lines.append("The timing of the beat weighs more than its shape.")
    else:
        lines.append(f"The shape of the {top} weighs most.")
    pre, post, pre_local = (float(expl.rr[RR_FEATURES.index(c)]) for c in ("pre_rr_s", "post_rr_s", "pre_rr_local"))
    if np.isfinite(pre) and np.isfinite(pre_local):
        timing = ("premature" if pre_local < 0.9 else "late" if pre_local > 1.1 else "on time")
        lines.append(f"Rhythm: {1000 * pre:.0f} ms after the previous beat ({100 * pre_local:.0f}% of the local "
                     f"mean RR, {timing}); {1000 * post:.0f} ms to the next.")
    if expl.in_af:
        lines.append("The RR intervals around this beat are irregularly irregular (atrial fibrillation is likely): "
                     "S is not called here, since in atrial fibrillation an early beat is not ectopic. The "
                     "attribution is that of the network's score, which the rule does not change.")
    if expl.by_template and expl.network_probabilities:
        own = max(expl.network_probabilities, key=expl.network_probabilities.get)
        why = (f"its template reads as {pred} on average" if pred != "S" else
               "with N, V, F and Q spread as in its template, S now leads")
        s_note = ("S is not averaged over the template: its probability is this beat's" if own != "S" else
                  "a beat read as S in a template that reads V is labelled V, since the shape tells a ventricular "
                  "beat from a supraventricular one")
        lines.append(f"The network alone read this beat as {own} ({100 * expl.network_probabilities[own]:.0f}%). "
                     f"Serving pulls a beat's N, V, F and Q probabilities towards the average of its template (this "
                     f"record's beats of its shape and timing), as Holter software labels a shape as a whole, and "
                     f"{why} ({s_note}). If this beat differs from its template, relabel it. The "
                     f"attribution is of the network's own score for {expl.target}.")
    if expl.far_shape:  # said second, right after the label: the rule, not the network, gave it
        own = (f" ({100 * expl.network_probabilities['S']:.0f}%)" if expl.network_probabilities else "")
        lines.insert(1, f"The network itself read this beat as supraventricular (S){own}; the decision rule labels it "
                        f"V because its QRS shape is far from every normal shape of this patient: a supraventricular "
                        f"beat is conducted like the normal beats and keeps their QRS, and a premature beat (or a fast "
                        f"run) of another shape is ventricular until shown otherwise, so the probability shown for V "
                        f"includes the network's S. Aberrantly conducted atrial beats are the exception: if a P wave "
                        f"precedes it, relabel it S. The attribution is of the network's own score for {expl.target}.")
    if expl.sv_run:
        own = (f" (the network alone: N {100 * expl.network_probabilities['N']:.0f}%)"
               if expl.network_probabilities else "")
        lines.append(f"This beat lies in a run that started abruptly and goes on fast and steady, and the network read "
                     f"beats of the run as supraventricular (S): a supraventricular tachycardia, whose beats AAMI labels "
                     f"S, so the decision rule labels this beat S{own}. The network reads 4 beats on each side and "
                     f"loses the run's onset a few beats in. If the run is sinus tachycardia or atrial flutter, "
                     f"relabel it. The attribution is of the network's own score for {expl.target}.")
    if expl.on_time_v:
        lines.append("The network read this beat's shape as ventricular (V), but the beat comes on time, with no pause "
                     "after it and at this patient's usual rate, so the decision rule labels it N: a premature "
                     "ventricular beat comes early, or before a pause, or in a fast run (wide conducted beats, "
                     "pre-excitation and noise fooled the network across patients). Late-cycle PVCs come on time "
                     "too: if this patient has them, relabel. Explain class V to see what the network read.")
    if expl.on_time_s:  # said second, right after the label: the rule, not the network, gave it
        lines.insert(1, "The network read this beat as supraventricular (S), but it comes neither early against the "
                     "local rhythm nor fast for this patient, so the decision rule labels it N: AAMI's S is the "
                     "premature supraventricular beat (or a beat of a fast supraventricular run); one that comes on "
                     "time or late is an escape beat, N. If a P wave of another shape shows this is an ectopic atrial "
                     "rhythm you want marked, relabel it. Explain class S to see what the network read.")
    return lines


def _runner_up(probs: dict[str, float]) -> str:
    second = sorted(probs, key=probs.get, reverse=True)[1]
    return f"{second} at {100 * probs[second]:.0f}%"


def method_disagreement(explanations: list[BeatExplanation]) -> str | None:
    """A sentence when attribution methods point at different regions of one beat (the region with the largest
    share for each), None when they agree. ``explanations``: the same beat and class, one per method."""
    top = {}
    for e in explanations:
        r = summarise_regions(e)
        top[e.method] = max(r, key=lambda k: r[k]["share"])
    if len(set(top.values())) <= 1:
        return None
    return ("The methods disagree: " + "; ".join(f"{m} points to the {t}" for m, t in top.items())
            + ". Attributions approximate what the network does; trust what they agree on.")
