"""Train the beat classifier on MIT-BIH in the inter-patient paradigm and write weights/<name>.pt + .json.

    .venv/bin/python train.py --arch hybrid --seed 0 --out weights/hybrid

Read top to bottom: config, data, one training run, cross-validation, the final model.

1. Cross-validation inside DS1 (``ecgapp.crossval``: 5 patient-grouped folds balanced for S and V beats):
   each fold's model trains on the other DS1 patients for the whole epoch budget and labels its held-out
   patients (at 360 Hz and after resampling to 128 Hz). The out-of-fold logits give the cross-validated
   figures and fit the decision rule (the threshold of the atrial-fibrillation gate, ``ecgapp.rhythm``, and
   the class offsets) and the temperature (``ecgapp.calibration``).
2. The shipped model trains on all of DS1 with the same settings; the fitted rule and temperature go into
   its weights. DS2 is evaluated once, at the end, for the model card: it never chooses anything.

Every config value below is also a flag (--epochs 5 ...). ``torchrun --nproc_per_node N train.py ...`` trains each
model with DistributedDataParallel (NCCL on GPUs, gloo on CPUs): each batch is split between the N processes, so
the global batch and the number of steps stay those of one process; only the first process evaluates and writes. Beats go through the same functions as in the
app: extract_beats -> features (normalise_waves, record_template, rr_inputs).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ecgapp.aami import AAMI_CLASSES
from ecgapp.augment import (Augmenter, early_waves, irregular_rhythm, premature_beats, sinus_arrhythmia,
                            supraventricular_runs, ventricular_runs)
from ecgapp.beats import RR_FEATURES, extract_beats
from ecgapp.calibration import best_temperature, expected_calibration_error, fit_logit_bias, fit_temperature
from ecgapp.crossval import folds_of
from ecgapp.evaluation import resample_record
from ecgapp.features import beat_inputs, normalise_waves, record_scale, record_template, rr_inputs, with_template
from ecgapp.inference import predict_logits
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS1, DS2, load_record
from ecgapp.model import BeatClassifier, ModelConfig, complete_state, pick_device, save_model
from ecgapp.rhythm import apply_af_gate, apply_s_gate, apply_sv_runs, apply_v_gate
from ecgapp import templates as templates_module
from ecgapp.templates import beat_templates, consensus_probabilities

# ----------------------------------------------------------------------------------------------- config
_before_config = set(globals())
arch = "hybrid"  # hybrid (CNN per beat + BiLSTM across beats) | cnn | intrabeat | lstm
template = True  # read each beat beside the record's dominant beat
context = 4  # hybrid: beats on each side of the labelled one
dropout = 0.2  # before each layer of the head
pool = "global"  # how each beat's CNN output is pooled: "global" (over the whole window) or "regions" (the part
# before the QRS, where the P wave is, the QRS and the ST-T apart: model.POOL_REGIONS; experiments row 46)
rr_features = 10  # RR context columns the model reads (the first N of beats.RR_FEATURES; 8 = without
# pre_rr_prev and rr_irregularity)
seed = 0
epochs = 16
chunk = 64  # consecutive beats of one record per training sequence
chunks_per_batch = 8
lr = 2e-3
weight_decay = 1e-4
ema = 0.99  # evaluate and keep an exponential moving average of the weights (0 = off)
class_weighting = "sqrt"  # loss weights: "sqrt" = sqrt(inverse class frequency), capped; "inverse" = inverse class
# frequency, capped; "none"
weight_cap = 10.0
label_smoothing = 0.0  # of the class loss's targets (0 = none)
augment = True  # nstdb noise (training half), amplitude scaling, time shift, residual baseline wander
rhythm_augment = 0.0  # chance that a stretch of only normal beats is re-timed as atrial fibrillation
premature_augment = 0.3  # chance that a stretch of only normal beats gets 1-3 beats re-timed as premature and
# labelled S (synthetic atrial premature beats: DS1 has 944 real ones, half in two patients)
premature_max = 3  # at most this many synthetic premature beats in one stretch (of ``chunk`` beats)
ventricular_augment = 0.0  # chance that a stretch of only normal beats, in a record with PVCs, gets a run of 3-8 of
# that patient's own PVCs at a fast rate, labelled V (augment.ventricular_runs: DS1's ventricular runs are few)
supraventricular_augment = 0.2  # chance that a stretch of only normal beats gets a run of 3-10 beats at a fast,
# steady rate with an abrupt onset, labelled S (augment.supraventricular_runs: synthetic supraventricular tachycardia;
# 0 before: chosen over 0 on 8 seeds of each, benchmarks/results/experiments.md rows 35 and 37)
sinus_augment = 0.0  # chance that a stretch of only normal beats (none of the synthetic rhythms above drawn for it)
# is re-timed as sinus arrhythmia, labels N (augment.sinus_arrhythmia: a gradual rise and fall of the rate is not S;
# benchmarks/results/experiments.md row 39)
premature_waves = False  # redraw each synthetic premature beat's window: its P wave rides on the previous T wave
invariance = 0.3  # subject-invariant training: a patient classifier on each beat's embedding, its gradient
# reversed and scaled by this (ramped up over training), so the embedding learns to hide who the patient is (0 = off;
# chosen among 0, 0.3, 1 by cross-validation: benchmarks/results/experiments.md row 13)
invariance_on = "embedding"  # what the patient classifier reads: "embedding" (each beat's CNN embedding),
# "context" (what the head reads: the beat's embedding beside the LSTM's reading of its neighbours) or "both" (two
# patient classifiers, one on each)
af_gate = True  # let cross-validation choose a threshold for the AF gate (no S inside atrial fibrillation)
v_gate = True  # let cross-validation choose the on-time V gate (a beat read as V that comes on time is N)
s_gate = True  # let cross-validation choose the on-time S gate (a beat read as S that is neither early nor fast is N:
# rhythm.s_gate_mask; benchmarks/results/experiments.md row 43)
template_mix = True  # let cross-validation choose how far each beat's N/V/F/Q probabilities are pulled towards its
# morphology template's (templates.template_consensus; 0 among the candidates = off)
far_shape = True  # let cross-validation choose the far-shape step (a beat read as S whose shape is far from every
# normal shape of the record becomes V: templates.far_shape_step; 0 among the candidates = off)
sv_run = False  # let cross-validation choose the supraventricular run rule (rhythm.sv_run_mask: the N beats of a fast,
# steady run that starts abruptly and holds a beat read as S become S; off among the candidates). Off: its gain in
# cross-validation comes from one DS1 patient (209) and, cross-fitted, it is not higher on every seed
# (benchmarks/results/experiments.md row 30)
offsets = False  # fit per-class logit offsets on the out-of-fold logits (off: in nested cross-validation
# they lowered macro-F1 on the held-out fold for every seed; benchmarks/results/experiments.md)
rates = "360,128"  # sampling rates the training records are seen at (resampled through the loading path)
leads = 1  # leads each training record is seen in: 1 = its default lead (MLII); 2 = also its other lead (V1, V2, V4
# or V5 in MIT-BIH), drawn per training stretch like the rates, labels unchanged (held-out patients: MLII only)
folds = 5  # patient-grouped cross-validation folds inside DS1 (0 = skip cross-validation)
fold = -1  # >= 0: run only this fold (results cached in runs/), then stop
final = True  # after cross-validation, train the shipped model on all of DS1
max_records = 0  # > 0: only the first N records of each split (quick checks and tests)
evaluate_ds2 = True
device = ""  # "" = CUDA if available, else CPU
amp = False  # on CUDA: mixed precision (float16 autocast, scaled gradients). Off: with it the final fit of seed 0
# diverged in its last two epochs on an H200 (loss 3.07 -> 4.48; that model called 1,278 DS2 beats F for 388 real)
# and it was no faster (1.83 s per epoch against 1.65 s in float32: the batches are small). CPU: always float32
tf32 = True  # on CUDA: let cuDNN use TensorFloat-32 in convolutions and the LSTM (torch's default; False = full
# float32 everywhere, matmuls included). CPU: no effect
threads = 0  # CPU threads for torch (0 = torch's default)
tag = ""  # name of this configuration's cached fold results (runs/<tag>/); "" = derived from out
out = "weights/hybrid"
# -------------------------------------------------------------------------------------------------------
CONFIG_KEYS = [k for k in globals() if k not in _before_config and not k.startswith("_")]
DEFAULTS = {k: globals()[k] for k in CONFIG_KEYS}
EVAL_RATES = (360.0, 128.0)  # held-out patients are labelled at these rates in cross-validation
TEMPLATE_MIXES = (0.0, 0.25, 0.5, 0.75, 1.0)  # template consensus candidates (templates.template_consensus)
# far-shape step candidates (templates.template_consensus: a beat read as S whose shape is farther than this from the
# record's normal shapes becomes V; 0 = off): from the templates' own threshold for one shape (MATCH_DISTANCE, 0.5) up
FAR_SHAPES = (0.0, 0.5, 0.6, 0.75, 1.0)
AF_THRESHOLDS = (0.0, 0.08, 0.10, 0.12, 0.15)  # AF gate candidates (rhythm.af_irregularity; 0 = no gate)
# on-time V gate candidates (rhythm.v_gate_mask: early, pause, fast, sure; zeros = no gate): not premature (pre RR
# at least 85-95% of the local RR), no pause after (post RR at most 105-120% of it), not fast (pre RR at least
# 80-90% of the record's median RR: a ventricular run is never gated), and the network's p(V) under 0.95 or 0.99
# (1 = whatever it is)
V_GATES = ((0.0, 0.0, 0.0, 0.0), *((e, p, f, s) for e in (0.85, 0.9, 0.95) for p in (1.05, 1.1, 1.2) for f in (0.8, 0.9)
                                   for s in (1.0, 0.99, 0.95)))
# on-time S gate candidates (rhythm.s_gate_mask: early, fast; zeros = no gate): pre RR at least 90, 95 or 100% of the
# local RR (not premature) and at least 80, 90 or 100% of the record's median RR (not in a fast run)
S_GATES = ((0.0, 0.0), *((e, f) for e in (0.9, 0.95, 1.0) for f in (0.8, 0.9, 1.0)))
# supraventricular run rule candidates (rhythm.sv_run_mask: fast, steady, onset; zeros = off): every beat's pre RR under
# 70 or 80% of the record's median, each within 15 or 20% of the one before, the first under 80 or 90% of the interval
# before it
SV_RUNS = ((0.0, 0.0, 0.0), *((f, s, o) for f in (0.7, 0.8) for s in (0.15, 0.2) for o in (0.8, 0.9)))


def parse_flags(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for key in CONFIG_KEYS:
        default = globals()[key]
        kind = (lambda s: s.lower() in ("1", "true", "yes")) if isinstance(default, bool) else type(default)
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, type=kind, default=default)
    return vars(parser.parse_args(argv))


# ------------------------------------------------------------------------------------------------- data
def record_at(name: str, fs: float):
    record = load_record(name)
    return record if fs == 360.0 else resample_record(record, fs)


def load_beats(names, fs_list, leads: int = 1) -> list[dict]:
    """One entry per (record, rate, lead): mV windows plus the record's scale and template (features.py), the
    default lead first; with ``leads`` 2 also the other lead (``Record.second_lead``), where it holds the same beats (a
    lead masked where the default one is not would lose some)."""
    out = []
    for name in names:
        for fs in fs_list:
            record = record_at(name, fs)
            first = None
            for lead in [record.default_lead, record.second_lead][:leads]:
                if lead is None:
                    continue
                beats = extract_beats(record, lead=lead)
                if first is not None and not np.array_equal(beats.sample, first.sample):
                    continue
                if first is None:
                    first = beats
                scale = record_scale(beats.windows)
                out.append({"name": name, "fs": fs, "lead": lead, "windows": beats.windows, "scale": np.float32(scale),
                            "template": record_template(normalise_waves(beats.windows, scale)),
                            "rr": rr_inputs(beats.rr), "label": beats.label})
    return out


def batch_inputs(rec: dict, lo: int, hi: int, augmenter, windows=None) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs of beats lo..hi-1 of one record, as features.beat_inputs makes them (+ augmentation);
    ``windows``: these beats' mV windows redrawn (default: the record's)."""
    w = rec["windows"][lo:hi] if windows is None else windows
    if augmenter is not None:
        w = augmenter(w)
    return with_template(normalise_waves(w, rec["scale"]), rec["template"]), rec["rr"][lo:hi]


def synthetic(cfg: dict, key: str, rec: dict, lo: int, hi: int, rng, at_least: int, eligible: bool = True) -> bool:
    """Whether beats lo..hi of ``rec`` get the synthetic rhythm whose chance is ``cfg[key]``: only a stretch of at
    least ``at_least`` beats, all labelled N, and ``eligible``; the random draw is made only then (so a rhythm that
    is off draws nothing and leaves every other draw of a run as it was)."""
    return bool(cfg[key]) and hi - lo >= at_least and not rec["label"][lo:hi].any() and eligible \
        and rng.random() < cfg[key]


# ---------------------------------------------------------------------------------------- one training run
class _ReverseGradient(torch.autograd.Function):
    """Identity forward; gradient times -scale backward (domain-adversarial training, Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def distributed() -> tuple[int, int]:
    """(rank, world size): (0, 1) in a plain run; under ``torchrun --nproc_per_node N`` the process group is
    started once (NCCL on GPUs, gloo on CPUs) and every process trains on its share of each batch."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


class _Trainee(torch.nn.Module):
    """What one training step runs (the classifier, and the patient classifiers of subject-invariant
    training), as one module's forward, so that DistributedDataParallel can wrap it."""

    def __init__(self, model: BeatClassifier, patient_heads: dict[str, torch.nn.Module] | None = None):
        super().__init__()
        self.model, self.patient_heads = model, torch.nn.ModuleDict(patient_heads or {})

    def forward(self, x, r, idx, reverse_scale: float = 0.0):
        """(logits of the labelled beats, [(patient logits, the rows of ``x`` they are of, or None for every
        row)] for each patient classifier: "embedding" reads every beat's embedding, "context" what the head
        reads for the labelled beats)."""
        emb = self.model.encode(x, r)
        z = self.model.head_input(emb[idx])
        logits = self.model.calibrate(self.model.head(z))
        who = []
        for on, head in self.patient_heads.items():
            if on == "context":
                who.append((head(_ReverseGradient.apply(z, reverse_scale)), idx[:, idx.shape[1] // 2]))
            else:
                who.append((head(_ReverseGradient.apply(emb, reverse_scale)), None))
        return logits, who


def train_model(cfg: dict, train_recs: list[dict], eval_recs: list[dict], run_seed: int, log=print):
    """Train for the whole budget on ``train_recs``; after each epoch score the EMA model on ``eval_recs``
    (360 Hz entries). Returns the EMA model and the per-epoch history."""
    rank, world = distributed()
    torch.manual_seed(run_seed)  # the same initial weights in every process
    rng = np.random.default_rng(run_seed)  # chunks and their order: the same in every process
    # each process's own draws (record version, augmentation); in a plain run the same generator as above
    local = rng if world == 1 else np.random.default_rng([run_seed, rank])
    dev = pick_device(cfg["device"] or None)
    if world > 1 and dev.type == "cuda":
        dev = torch.device("cuda", torch.cuda.current_device())
    use_amp = dev.type == "cuda" and cfg["amp"]
    if dev.type == "cuda" and not cfg["tf32"]:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    model = BeatClassifier(ModelConfig(arch=cfg["arch"], template=cfg["template"], context=cfg["context"],
                                    dropout=cfg["dropout"], rr_features=cfg["rr_features"],
                                    pool=cfg["pool"])).to(dev)
    averaged = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg["ema"]), use_buffers=True)
        if cfg["ema"] else None)
    by_name: dict[str, list[dict]] = {}
    for r in train_recs:
        by_name.setdefault(r["name"], []).append(r)
    patient_of = {name: i for i, name in enumerate(by_name)}
    patient_heads = {}
    if cfg["invariance"]:  # training only: the shipped model has no patient classifier
        on = {"embedding": ("embedding",), "context": ("context",), "both": ("embedding", "context")}.get(cfg["invariance_on"])
        if on is None:
            raise ValueError(f"--invariance-on must be embedding, context or both, not {cfg['invariance_on']!r}")
        widths = {"embedding": model.config.embed if model.config.arch in ("hybrid", "cnn") else model.head[1].in_features,
                  "context": model.head[1].in_features}
        patient_heads = {key: torch.nn.Sequential(torch.nn.Linear(widths[key], 64), torch.nn.ReLU(inplace=True),
                                                  torch.nn.Linear(64, len(by_name))).to(dev) for key in on}
    trainee = _Trainee(model, patient_heads)
    step = (torch.nn.parallel.DistributedDataParallel(trainee, device_ids=[dev.index] if dev.type == "cuda" else None)
            if world > 1 else trainee)  # gradients averaged over the processes after each backward pass
    opt = torch.optim.AdamW(trainee.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    augmenter = Augmenter(local) if cfg["augment"] else None
    k = model.config.context if model.is_sequence else 0
    counts = np.bincount(np.concatenate([v[0]["label"] for v in by_name.values()]), minlength=len(AAMI_CLASSES))
    ratio = counts.max() / np.maximum(counts, 1)
    if cfg["class_weighting"] == "none":
        weights = np.ones(len(AAMI_CLASSES))
    elif cfg["class_weighting"] in ("sqrt", "inverse"):
        weights = np.where(counts > 0, np.minimum(np.sqrt(ratio) if cfg["class_weighting"] == "sqrt" else ratio,
                                                  cfg["weight_cap"]), 0)
    else:
        raise ValueError(f"--class-weighting must be sqrt, inverse or none, not {cfg['class_weighting']!r}")
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32, device=dev),
                                        label_smoothing=cfg["label_smoothing"])

    history = []
    for epoch in range(1, cfg["epochs"] + 1):
        t_epoch = time.perf_counter()
        model.train()
        chunks = []  # (name, start, end): every training beat is labelled once per epoch
        for name, versions in by_name.items():
            n = len(versions[0]["label"])
            start = -int(rng.integers(0, cfg["chunk"]))
            for a in range(start, n, cfg["chunk"]):
                chunks.append((name, max(a, 0), min(a + cfg["chunk"], n)))
        order = rng.permutation(len(chunks))
        total, n_seen, class_total = 0.0, 0, 0.0
        per = cfg["chunks_per_batch"]
        # under torchrun each batch of `per` chunks is split between the processes (the same global batch and
        # number of steps as one process); a last batch too small to give every process a chunk is dropped
        last = len(order) if world == 1 else len(order) - world + 1
        for i in range(0, last, per):
            batch = order[i: i + per]
            share = batch if world == 1 else np.array_split(batch, world)[rank]
            waves, rr, labels, index, patients, offset = [], [], [], [], [], 0
            for j in share:
                name, a, b = chunks[j]
                versions = by_name[name]
                rec = versions[int(local.integers(len(versions)))]
                n = len(rec["label"])
                lo, hi = max(a - k, 0), min(b + k, n)  # neighbours beyond the chunk, inside the record
                w, r = batch_inputs(rec, lo, hi, augmenter)
                y_chunk = rec["label"][a:b]
                times, chunk_at = rec["rr"][lo:hi, 0].cumsum(), np.arange(a, b) - lo  # beat times (s); the chunk
                pvcs = rec["label"] == AAMI_CLASSES.index("V")  # the record's own PVCs, for synthetic ventricular runs
                if synthetic(cfg, "rhythm_augment", rec, lo, hi, local, 3):
                    r = rr_inputs(irregular_rhythm(times, local))
                elif synthetic(cfg, "premature_augment", rec, lo, hi, local, 8):
                    rr_new, y_all = premature_beats(times, rec["label"][lo:hi], chunk_at, local,
                                                    per_stretch=(1, cfg["premature_max"]))
                    r, y_chunk = rr_inputs(rr_new), y_all[a - lo: b - lo]
                    if cfg["premature_waves"]:
                        w, _ = batch_inputs(rec, lo, hi, augmenter, early_waves(
                            rec["windows"][lo:hi], rec["rr"][lo:hi, 0], r[:, 0]))
                elif synthetic(cfg, "ventricular_augment", rec, lo, hi, local, 12, eligible=pvcs.any()):
                    rr_new, y_all, w_new = ventricular_runs(times, rec["label"][lo:hi], rec["windows"][lo:hi],
                                                            rec["windows"][pvcs], chunk_at, local)
                    w, _ = batch_inputs(rec, lo, hi, augmenter, w_new)
                    r, y_chunk = rr_inputs(rr_new), y_all[a - lo: b - lo]
                elif synthetic(cfg, "supraventricular_augment", rec, lo, hi, local, 12):
                    rr_new, y_all = supraventricular_runs(times, rec["label"][lo:hi], chunk_at, local)
                    r, y_chunk = rr_inputs(rr_new), y_all[a - lo: b - lo]
                elif synthetic(cfg, "sinus_augment", rec, lo, hi, local, 12):
                    r = rr_inputs(sinus_arrhythmia(times, local))
                waves.append(w)
                rr.append(r)
                labels.append(y_chunk)
                centre = np.arange(a, b)
                index.append(np.clip(centre[:, None] + np.arange(-k, k + 1)[None, :], lo, hi - 1) - lo + offset)
                patients.append(np.full(hi - lo, patient_of[name]))
                offset += hi - lo
            x = torch.from_numpy(np.concatenate(waves)).to(dev)
            r = torch.from_numpy(np.concatenate(rr)).to(dev)
            y = torch.from_numpy(np.concatenate(labels)).to(dev)
            idx = torch.from_numpy(np.concatenate(index)).to(dev)
            # subject-invariant training: the reversed gradient ramps 0 -> invariance (Ganin & Lempitsky's schedule)
            progress = (epoch - 1 + i / len(order)) / cfg["epochs"]
            scale = float(cfg["invariance"] * (2.0 / (1.0 + np.exp(-10.0 * progress)) - 1.0))
            with torch.autocast(dev.type, dtype=torch.float16, enabled=use_amp):
                logits, patient_logits = step(x, r, idx, scale)
                loss = class_loss = loss_fn(logits, y)
                if patient_logits:
                    who = torch.from_numpy(np.concatenate(patients)).to(dev)
                    for who_logits, rows in patient_logits:
                        loss = loss + torch.nn.functional.cross_entropy(who_logits, who if rows is None else who[rows])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if averaged is not None:
                averaged.update_parameters(model)
            total += loss.item() * y.numel()
            class_total += class_loss.item() * y.numel()
            n_seen += y.numel()
        sched.step()
        train_s = time.perf_counter() - t_epoch
        kept = averaged.module if averaged is not None else model
        # loss = the weighted class loss + (subject-invariant training) the patient classifiers' loss, whose
        # gradient the network receives reversed: it rises as the embedding learns to hide the patient
        row = {"epoch": epoch, "loss": round(total / n_seen, 4), "class_loss": round(class_total / n_seen, 4),
               "train_s": round(train_s, 2)}
        if eval_recs and rank == 0:
            logits, labels = predict_records(kept, [e for e in eval_recs if e["fs"] == 360.0])
            rep = aami_report(labels, logits.argmax(axis=1))
            row.update(macro_f1=round(rep.macro_f1, 4), S_f1=round(rep.f1["S"], 4), V_f1=round(rep.f1["V"], 4))
        history.append(row)
        if rank == 0:
            log(f"  epoch {epoch:2d}  " + "  ".join(f"{key} {v}" for key, v in row.items() if key != "epoch"))
    kept = averaged.module if averaged is not None else model
    if world > 1:  # DistributedDataParallel keeps the copies equal: check it (a broken setup shows here)
        flat = torch.cat([p.detach().float().flatten() for p in kept.parameters()])
        first = flat.clone()
        torch.distributed.broadcast(first, 0)
        same = torch.tensor([float(torch.equal(flat, first))], device=dev)
        torch.distributed.all_reduce(same, op=torch.distributed.ReduceOp.MIN)
        history[-1]["replicas_identical"] = bool(same.item() == 1.0)
        # free the DistributedDataParallel wrapper (its reducer holds gloo work) now, not while the interpreter
        # shuts down: freed then, gloo's threads can abort the process
        del step
        gc.collect()
    return kept.eval(), history


def predict_records(model, recs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Pooled logits and labels over records, each record classified on its own (the serving path)."""
    logits, labels = [], []
    for rec in recs:
        w, r = batch_inputs(rec, 0, len(rec["label"]), None)
        logits.append(predict_logits(model, w, r))
        labels.append(rec["label"])
    return np.concatenate(logits), np.concatenate(labels)


# --------------------------------------------------------------------------------------- cross-validation
# settings that change what a fold's model learns (the others: where results go, how the run is split up)
# settings whose default changed after fold caches without them were written: the value such a cache was trained with
WITHOUT_THE_SETTING = {"supraventricular_augment": 0.0}
NOT_TRAINING_KEYS = {"fold", "final", "evaluate_ds2", "device", "threads", "tag", "out", "af_gate", "v_gate", "s_gate",
                     "template_mix", "far_shape", "sv_run", "offsets"}


def training_settings(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in NOT_TRAINING_KEYS}


def run_fold(cfg: dict, f: int, held_out: tuple[str, ...], train_names: list[str], cache: Path) -> dict:
    path = cache / f"fold{f}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        made_with = meta.get("settings")  # caches written before settings were stored cannot be checked
        if made_with is not None:  # a setting added since the cache was written had its default value then
            made_with = {**{k: v for k, v in DEFAULTS.items() if k not in NOT_TRAINING_KEYS}, **WITHOUT_THE_SETTING,
                         **made_with}
        if made_with is not None and made_with != training_settings(cfg):
            differ = sorted(k for k in set(made_with) | set(training_settings(cfg))
                            if made_with.get(k) != training_settings(cfg).get(k))
            raise SystemExit(f"{path} was trained with other settings ({', '.join(differ)}): pass --tag to keep "
                             f"this configuration's folds apart, or delete {cache} to retrain them")
        return {key: data[key] for key in data.files} | meta
    rates_ = [float(x) for x in cfg["rates"].split(",")]
    if distributed()[0] == 0:
        print(f"fold {f}: held out {' '.join(held_out)}", flush=True)
    train_recs = load_beats(train_names, rates_, cfg["leads"])
    eval_recs = load_beats(held_out, EVAL_RATES)
    model, history = train_model(cfg, train_recs, eval_recs, run_seed=cfg["seed"] * 1000 + f)
    if distributed()[0] != 0:  # under torchrun only the first process evaluates and writes
        return {}
    result = {"history": history, "held_out": list(held_out), "settings": training_settings(cfg)}
    arrays = {}
    for fs in EVAL_RATES:
        logits, labels = predict_records(model, [e for e in eval_recs if e["fs"] == fs])
        arrays[f"logits_{fs:g}"], arrays[f"labels_{fs:g}"] = logits, labels
        arrays[f"records_{fs:g}"] = np.concatenate([[e["name"]] * len(e["label"]) for e in eval_recs if e["fs"] == fs])
        arrays[f"pre_rr_{fs:g}"] = np.concatenate([e["rr"][:, 0] for e in eval_recs if e["fs"] == fs])
        arrays[f"rr_{fs:g}"] = np.concatenate([e["rr"] for e in eval_recs if e["fs"] == fs])
    cache.mkdir(parents=True, exist_ok=True)
    # the fold's network too (state dict): patient adaptation is chosen on DS1 records with the model that
    # never saw them (benchmarks.bench_adapt --ds1)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, cache / f"fold{f}.tmp.pt")
    (cache / f"fold{f}.tmp.pt").replace(cache / f"fold{f}.pt")
    np.savez(cache / f"fold{f}.tmp.npz", meta=json.dumps(result), **arrays)
    (cache / f"fold{f}.tmp.npz").replace(path)
    return arrays | result


def fold_networks(cache: Path, config: dict) -> list[tuple[BeatClassifier, list[str]]]:
    """(network, held-out records) of each fold of a cached cross-validation run (``<cache>/fold<f>.pt`` and its
    ``.npz``, written by ``run_fold``), built with ``config`` (a card's ``config``), in eval mode; the decision rule
    off, as saved (it is chosen after the folds): callers set the rule they mean."""
    out = []
    for pt in sorted(cache.glob("fold[0-9].pt")):
        model = BeatClassifier(ModelConfig.from_dict(config))
        model.load_state_dict(complete_state(torch.load(pt, map_location="cpu", weights_only=True)))
        out.append((model.eval(), json.loads(str(np.load(pt.with_suffix(".npz"))["meta"]))["held_out"]))
    return out


def per_record(path: Path, compute):
    """``compute()``'s array, cached at ``path`` (written atomically): the out-of-fold figures read each DS1 record's
    RR features and templates many times, for every row and seed."""
    if path.exists():
        return np.load(path)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path.with_suffix(".tmp.npy"), value)
    path.with_suffix(".tmp.npy").replace(path)
    return value


def rr_of(records: np.ndarray, fs: float) -> np.ndarray:
    """Each beat's RR features (n, 10), as the model reads them, for out-of-fold beats listed by record (for
    fold caches written before they stored them)."""
    out = np.zeros((len(records), len(RR_FEATURES)), np.float32)
    for name in dict.fromkeys(records):  # the same for every row and seed: computed once
        out[records == name] = per_record(Path("runs") / "rr" / f"{name}_{fs:g}.npy",
                                          lambda: rr_inputs(extract_beats(record_at(str(name), fs)).rr))
    return out


def _template_part(name: str, fs: float, part: str) -> np.ndarray:
    """One part of a DS1 record's templates (``templates.beat_templates`` of its model inputs, as serving makes them):
    "assignment" (each beat's template), "shape" (each beat's morphology group) or "gap" (the groups' gaps), cached in
    runs/templates/ under a digest of templates.py (a change to the grouping recomputes them); the grouping runs once
    per record for all three."""
    digest = hashlib.sha1(Path(templates_module.__file__).read_bytes()).hexdigest()[:10]
    folder = Path("runs") / "templates" / digest
    suffix = {"assignment": "", "shape": "_shape", "gap": "_gap"}
    made: list = []

    def compute(which: str) -> np.ndarray:
        if not made:
            made.append(beat_templates(*beat_inputs(extract_beats(record_at(str(name), fs)))))
        t = made[0]
        return {"assignment": t.assignment, "shape": t.shape[t.assignment], "gap": t.gap}[which]
    parts = {which: per_record(folder / f"{name}_{fs:g}{end}.npy", lambda: compute(which))  # all three together
             for which, end in suffix.items()}
    return parts[part]


def templates_of(records: np.ndarray, fs: float) -> np.ndarray:
    """Each beat's morphology template (``_template_part`` "assignment"), for out-of-fold beats listed by record,
    numbered apart across records: (n,) int."""
    out = np.zeros(len(records), np.int64)
    offset = 0
    for name in dict.fromkeys(records):
        assignment = _template_part(str(name), fs, "assignment")
        out[records == name] = assignment + offset
        offset += int(assignment.max()) + 1 if assignment.size else 0
    return out


def shapes_of(records: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Each beat's morphology group and the groups' gaps (``templates.Templates.gap``), for out-of-fold beats listed by
    record, the records' groups numbered apart and their gaps stacked block-diagonally (infinite between records):
    ((n,) int, (G, G) float), for ``templates.far_shape_step``."""
    shape, blocks = np.zeros(len(records), np.int64), []
    for name in dict.fromkeys(records):
        shape[records == name] = _template_part(str(name), fs, "shape") + sum(len(b) for b in blocks)
        blocks.append(_template_part(str(name), fs, "gap"))
    gap = np.full((sum(len(b) for b in blocks),) * 2, np.inf)
    at = 0
    for b in blocks:
        gap[at: at + len(b), at: at + len(b)] = b
        at += len(b)
    return shape, gap


def choose_far_shape(probs_of, labels) -> tuple[float, dict]:
    """The far-shape step's threshold (0 = off) with the best pooled out-of-fold macro-F1 (ties to the earlier
    candidate: off first); ``probs_of(far)`` gives the served probabilities with it."""
    scores = {f: round(float(aami_report(labels, probs_of(f).argmax(axis=1)).macro_f1), 4) for f in FAR_SHAPES}
    best = max(scores, key=lambda f: (scores[f], -FAR_SHAPES.index(f)))
    return best, {f"{f:g}": v for f, v in scores.items()}


def served(logits: np.ndarray, bias: np.ndarray, temperature: float, groups: np.ndarray, mix: float,
           ventricular: bool = True, shapes: tuple | None = None, far: float = 0.0) -> np.ndarray:
    """The served probabilities of (gated) out-of-fold logits: offsets, temperature, then template consensus (as
    inference.predict_logits does record by record: ``groups`` from templates_of never span two records);
    ``ventricular`` False leaves out consensus's V step (no S in a template that reads V), for comparison; ``far``
    > 0 with ``shapes`` (shapes_of; a subset of the beats may be given with the whole gap matrix) adds the far-shape
    step."""
    return consensus_probabilities((np.asarray(logits, np.float64) + bias) / temperature, groups, mix, ventricular,
                                   shapes, far)


def choose_template_mix(logits, labels, bias, temperature, groups, ventricular: bool = True) -> tuple[float, dict]:
    """The template consensus weight (0 = none) with the best pooled out-of-fold macro-F1, on the gated logits,
    and the figure of every candidate."""
    scores = {m: round(float(aami_report(labels, served(logits, bias, temperature, groups, m, ventricular)
                                         .argmax(axis=1)).macro_f1), 4) for m in TEMPLATE_MIXES}
    return max(scores, key=lambda m: (scores[m], -m)), {f"{m:g}": v for m, v in scores.items()}


def gated(logits: np.ndarray, records: np.ndarray, pre_rr: np.ndarray, threshold: float, return_af: bool = False):
    """Out-of-fold logits with the AF gate applied record by record (as inference.predict_logits does); with
    ``return_af`` also the AF mask."""
    out, af = logits.copy(), np.zeros(len(logits), bool)
    for name in dict.fromkeys(records):
        m = records == name
        out[m], af[m] = apply_af_gate(logits[m], pre_rr[m], threshold)
    return (out, af) if return_af else out


def in_runs(probs: np.ndarray, rr: np.ndarray, records: np.ndarray, af: np.ndarray, gate) -> np.ndarray:
    """Served out-of-fold probabilities with the supraventricular run rule applied record by record (as
    inference.predict_logits does, last in the rule)."""
    if float(gate[0]) <= 0:
        return probs
    out = np.log(np.maximum(np.asarray(probs, np.float64), 1e-30))
    for name in dict.fromkeys(records):
        m = records == name
        out[m] = apply_sv_runs(out[m], rr[m], gate, af[m])[0]
    out = np.exp(out - out.max(axis=1, keepdims=True))
    return out / out.sum(axis=1, keepdims=True)


def choose_sv_run(probs, labels, rr, records, af) -> tuple[tuple, dict]:
    """The supraventricular run rule (zeros = none) with the best pooled out-of-fold macro-F1, on the served
    probabilities, and the figure of every candidate (ties go to the earlier candidate: off first)."""
    scores = {gate: round(float(aami_report(labels, in_runs(probs, rr, records, af, gate).argmax(axis=1)).macro_f1), 4)
              for gate in SV_RUNS}
    best = max(scores, key=lambda g: (scores[g], -SV_RUNS.index(g)))
    return best, {",".join(f"{x:g}" for x in g): v for g, v in scores.items()}


def class_offsets(logits: np.ndarray, labels: np.ndarray, fit: bool) -> np.ndarray:
    """The decision rule's per-class logit offsets: fitted on out-of-fold logits, or none (zeros)."""
    return fit_logit_bias(logits, labels) if fit else np.zeros(len(AAMI_CLASSES), np.float32)


def rule_temperature(raw_logits: np.ndarray, gated_logits: np.ndarray, labels: np.ndarray, bias: np.ndarray,
                     groups: np.ndarray | None = None, mix: float = 0.0, ventricular: bool = True,
                     shapes: tuple | None = None, far: float = 0.0) -> float:
    """The temperature of the served probabilities: fitted on the gated logits plus offsets, leaving out the
    reference S and V beats the gates gave up on (their log-loss measures the rule, not the confidence, and a
    handful of them would otherwise set the temperature). With template consensus (``mix`` > 0 over ``groups``)
    the temperature minimises the log-loss of the served probabilities, consensus included (over every beat,
    scored on the same ones); with ``shapes`` and ``far`` > 0 after the far-shape step too (not the shipped fit:
    cross-fitted, it calibrated worse, benchmarks/results/experiments.md row 40)."""
    given_up = np.zeros(len(labels), bool)
    for cls in ("S", "V"):
        k = AAMI_CLASSES.index(cls)
        given_up |= (gated_logits[:, k] != raw_logits[:, k]) & (labels == k)
    if mix <= 0:
        return fit_temperature(gated_logits[~given_up] + bias, labels[~given_up])
    keep = ~given_up & (labels >= 0)

    def nll(t: float) -> float:
        p = served(gated_logits, bias, t, groups, mix, ventricular, shapes, far)[keep, labels[keep]]
        return float(-np.log(np.maximum(p, 1e-12)).mean())
    return best_temperature(nll)


def choose_af_threshold(logits, labels, records, pre_rr, fit_offsets: bool) -> tuple[float, dict]:
    """The AF gate's threshold (0 = no gate) with the best pooled out-of-fold macro-F1 (offsets refitted
    for each when they are fitted at all), and the figure of every candidate."""
    scores = {}
    for th in AF_THRESHOLDS:
        z = gated(logits, records, pre_rr, th)
        pred = (z + class_offsets(z, labels, fit_offsets)).argmax(axis=1)
        scores[th] = round(float(aami_report(labels, pred).macro_f1), 4)
    return max(scores, key=lambda th: (scores[th], -th)), {f"{th:g}": v for th, v in scores.items()}


def choose_v_gate(logits, labels, rr, fit_offsets: bool) -> tuple[tuple, dict]:
    """The on-time V gate (early, pause, fast, sure; zeros = none) with the best pooled out-of-fold macro-F1, on the
    AF-gated logits, and the figure of every candidate."""
    scores = {}
    for gate in V_GATES:
        z = apply_v_gate(logits, rr, gate)[0]  # per beat: it reads only the beat's own RR features
        pred = (z + class_offsets(z, labels, fit_offsets)).argmax(axis=1)
        scores[gate] = round(float(aami_report(labels, pred).macro_f1), 4)
    best = max(scores, key=lambda g: (scores[g], -g[0]))
    return best, {",".join(f"{x:g}" for x in g): v for g, v in scores.items()}


def choose_s_gate(logits, labels, rr, fit_offsets: bool) -> tuple[tuple, dict]:
    """The on-time S gate (early, fast; zeros = none) with the best pooled out-of-fold macro-F1, on the AF- and
    V-gated logits, and the figure of every candidate (ties go to the earlier candidate: off first)."""
    scores = {}
    for gate in S_GATES:
        z = apply_s_gate(logits, rr, gate)[0]  # per beat: it reads only the beat's own RR features
        pred = (z + class_offsets(z, labels, fit_offsets)).argmax(axis=1)
        scores[gate] = round(float(aami_report(labels, pred).macro_f1), 4)
    best = max(scores, key=lambda g: (scores[g], -S_GATES.index(g)))
    return best, {",".join(f"{x:g}" for x in g): v for g, v in scores.items()}


def cross_validate(cfg: dict, names: list[str], cache: Path) -> dict | None:
    """Every fold (cached), then the out-of-fold figures and the decision rule (AF gate threshold, class
    offsets) and temperature, all fitted on the out-of-fold logits at 360 Hz."""
    fold_sets = folds_of(names, cfg["folds"])
    results = []
    for f, held_out in enumerate(fold_sets):
        if cfg["fold"] >= 0 and f != cfg["fold"]:
            continue
        results.append(run_fold(cfg, f, held_out, [n for n in names if n not in held_out], cache))
    if cfg["fold"] >= 0 or distributed()[0] != 0:
        return None
    cv = {"folds": [list(h) for h in fold_sets], "per_fold": [], "history": [r["history"] for r in results]}
    for fs in EVAL_RATES:
        key = f"{fs:g}"
        raw_logits = np.concatenate([r[f"logits_{key}"] for r in results])
        labels = np.concatenate([r[f"labels_{key}"] for r in results])
        records = np.concatenate([r[f"records_{key}"] for r in results])
        fold_of = np.concatenate([np.full(len(r[f"labels_{key}"]), f) for f, r in enumerate(results)])
        rr = (np.concatenate([r[f"rr_{key}"] for r in results])
              if all(f"rr_{key}" in r for r in results) else rr_of(records, fs))
        pre_rr = rr[:, 0]
        if fs == EVAL_RATES[0]:
            af_threshold, af_scores = (choose_af_threshold(raw_logits, labels, records, pre_rr, cfg["offsets"])
                                       if cfg["af_gate"] else (0.0, {}))
            logits, af = gated(raw_logits, records, pre_rr, af_threshold, return_af=True)
            v_gate, v_scores = (choose_v_gate(logits, labels, rr, cfg["offsets"])
                                if cfg["v_gate"] else (V_GATES[0], {}))
            logits = apply_v_gate(logits, rr, v_gate)[0]
            s_gate, s_scores = (choose_s_gate(logits, labels, rr, cfg["offsets"])
                                if cfg.get("s_gate", False) else (S_GATES[0], {}))
            logits = apply_s_gate(logits, rr, s_gate)[0]
            bias = class_offsets(logits, labels, cfg["offsets"])
            temperature = rule_temperature(raw_logits, logits, labels, bias)
            groups = templates_of(records, fs)
            mix, mix_scores = (choose_template_mix(logits, labels, bias, temperature, groups)
                               if cfg["template_mix"] else (0.0, {}))
            if mix > 0:  # the temperature of what is served: the consensus changes how sure the beats are
                temperature = rule_temperature(raw_logits, logits, labels, bias, groups, mix)
            shapes = shapes_of(records, fs)
            far, far_scores = (choose_far_shape(lambda f: served(logits, bias, temperature, groups, mix, True, shapes,
                                                                 f), labels) if cfg.get("far_shape", False) else (0.0, {}))
            run_gate, run_scores = (choose_sv_run(served(logits, bias, temperature, groups, mix, True, shapes, far),
                                                  labels, rr, records, af) if cfg.get("sv_run", False) else (SV_RUNS[0], {}))
            cv["decision_rule"] = {"af_threshold": af_threshold, "af_threshold_macro_f1": af_scores,
                                   "v_gate": list(v_gate), "v_gate_macro_f1": v_scores,
                                   "s_gate": list(s_gate), "s_gate_macro_f1": s_scores,
                                   "logit_bias": dict(zip(AAMI_CLASSES, map(float, bias))), "temperature": temperature,
                                   "template_mix": mix, "template_mix_macro_f1": mix_scores,
                                   "far_shape": far, "far_shape_macro_f1": far_scores,
                                   "sv_run": list(run_gate), "sv_run_macro_f1": run_scores}
        else:
            logits, af = gated(raw_logits, records, pre_rr, af_threshold, return_af=True)
            logits = apply_s_gate(apply_v_gate(logits, rr, v_gate)[0], rr, s_gate)[0]
            groups, shapes = templates_of(records, fs), shapes_of(records, fs)
        probs = in_runs(served(logits, bias, temperature, groups, mix, True, shapes, far), rr, records, af, run_gate)
        pred = probs.argmax(axis=1)
        raw = aami_report(labels, raw_logits.argmax(axis=1))
        ruled = aami_report(labels, pred)
        per_fold = [aami_report(labels[fold_of == f], pred[fold_of == f]).macro_f1 for f in range(len(results))]
        cv[f"at_{key}Hz"] = {
            "raw": raw.to_dict(), "with_rule": ruled.to_dict(),
            "fold_macro_f1": [round(float(m), 4) for m in per_fold],
            "fold_macro_f1_mean": round(float(np.nanmean(per_fold)), 4),
            "fold_macro_f1_sd": round(float(np.nanstd(per_fold)), 4),
            "ece_raw": round(expected_calibration_error(in_runs(served(logits, bias, 1.0, groups, mix, True, shapes,
                                                                       far), rr, records, af, run_gate), labels), 4),
            "ece_calibrated": round(expected_calibration_error(probs, labels), 4),
            "F_predicted": int((pred == AAMI_CLASSES.index("F")).sum()),
            "F_real": int((labels == AAMI_CLASSES.index("F")).sum()),
        }
    return cv


def save_out_of_fold(cache: Path, out: str, n_folds: int) -> Path:
    """``<out>_cv.npz``: the out-of-fold logits (before the decision rule), labels, records, RR features
    (``rr``; ``pre_rr`` its first column) and fold of every DS1 beat at 360 Hz, shipped beside the weights so the rule and temperature can be checked by anyone."""
    parts = [np.load(cache / f"fold{f}.npz") for f in range(n_folds)]
    path = Path(f"{out}_cv.npz")
    records = np.concatenate([p["records_360"] for p in parts])
    rr = (np.concatenate([p["rr_360"] for p in parts]) if all("rr_360" in p for p in parts)
          else rr_of(records, 360.0))
    np.savez_compressed(path, logits=np.concatenate([p["logits_360"] for p in parts]).astype(np.float32),
                        labels=np.concatenate([p["labels_360"] for p in parts]),
                        records=records, pre_rr=rr[:, 0], rr=rr,
                        fold=np.concatenate([np.full(len(p["labels_360"]), f) for f, p in enumerate(parts)]))
    return path


CUDA_CARD = "benchmarks/results/train_cuda.json"  # (from the project root) the card benchmarks/train_cuda.sh wrote on a GPU


def other_devices(device_type: str) -> dict:
    """The same recipe's epoch time on CUDA, from ``CUDA_CARD`` (when this run is not itself on CUDA and the card is
    there): {"cuda": {epoch_s, final_fit_s, hardware, command, cross-validated macro-F1, source}}, else {}."""
    path = Path(__file__).resolve().parent / CUDA_CARD
    if device_type == "cuda" or not path.exists():
        return {}
    card = json.loads(path.read_text())
    cv = card.get("cross_validation") or {}
    return {"cuda": {"epoch_s": card["training"]["epoch_time_s"]["cuda"], "final_fit_s": card["training"]["final_fit_s"],
                     "hardware": card["training"]["hardware"], "command": card["command"],
                     "cv_macro_f1_with_rule": cv.get("at_360Hz", {}).get("with_rule", {}).get("macro_F1_NSV"),
                     "source": CUDA_CARD}}


def summary_line(rep: dict) -> str:
    se, ppv = rep["Se"], rep["+P"]
    return (f"macro-F1 {rep['macro_F1_NSV']}  S Se {se['S']} +P {ppv['S']}  V Se {se['V']} +P {ppv['V']}  "
            f"F pred {sum(row[3] for row in rep['confusion_matrix']['counts'])}")


# ------------------------------------------------------------------------------------------------- main
def main(argv=None) -> dict | None:
    cfg = parse_flags(argv)
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    limit = cfg["max_records"] or None
    names = list(DS1[:limit])
    t0 = time.perf_counter()
    cache = Path("runs") / (cfg["tag"] or Path(cfg["out"]).name) / f"seed{cfg['seed']}"
    cv = cross_validate(cfg, names, cache) if cfg["folds"] else None
    if cfg["fold"] >= 0:
        return None
    if cv is not None:
        (cache / "cv.json").write_text(json.dumps(cv, indent=1) + "\n")
        for key in ("at_360Hz", "at_128Hz"):
            c = cv[key]
            print(f"cross-validation {key}: raw {summary_line(c['raw'])}")
            print(f"  with rule: {summary_line(c['with_rule'])}  folds {c['fold_macro_f1_mean']} +- "
                  f"{c['fold_macro_f1_sd']}  ECE {c['ece_raw']} -> {c['ece_calibrated']}")
    if not cfg["final"]:
        return cv

    rates_ = [float(x) for x in cfg["rates"].split(",")]
    if distributed()[0] == 0:
        print(f"final model: all {len(names)} DS1 records", flush=True)
    t_final = time.perf_counter()
    model, history = train_model(cfg, load_beats(names, rates_, cfg["leads"]), [], run_seed=cfg["seed"])
    rank, world = distributed()
    if rank != 0:  # the other processes of a torchrun have done their share: wait for the first to write
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
        return None
    if cv is not None:
        rule = cv["decision_rule"]
        model.logit_bias.copy_(torch.tensor([rule["logit_bias"][c] for c in AAMI_CLASSES]))
        model.temperature.fill_(rule["temperature"])
        model.af_threshold.fill_(rule["af_threshold"])
        model.v_gate.copy_(torch.tensor(rule.get("v_gate", [0.0, 0.0, 0.0, 0.0])))
        model.s_gate.copy_(torch.tensor(rule.get("s_gate", [0.0, 0.0])))
        model.template_mix.fill_(rule.get("template_mix", 0.0))
        model.sv_run.copy_(torch.tensor(rule.get("sv_run", [0.0, 0.0, 0.0])))
        model.far_shape.fill_(rule.get("far_shape", 0.0))
    dev = next(model.parameters()).device
    others = other_devices(dev.type)
    card = {
        "name": Path(cfg["out"]).name,
        "architecture": cfg["arch"],
        "command": "python train.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "train_config": cfg,
        "data": {
            "database": "MIT-BIH Arrhythmia Database 1.0.0 (PhysioNet), lead MLII"
                        + (" (training also on each record's other lead)" if cfg["leads"] == 2 else ""),
            "split": "inter-patient (de Chazal 2004): settings, decision rule and temperature chosen by "
                     f"{cfg['folds']}-fold patient-grouped cross-validation inside DS1; the shipped model trains "
                     "on all of DS1; DS2 is evaluated once, after training",
            "train_records": names, "test_records": list(DS2[:limit]),
            "train_rates_hz": rates_,
            "class_imbalance": f"every beat once per epoch; loss weights {cfg['class_weighting']} (cap {cfg['weight_cap']})",
            "augmentation": "; ".join(part for part, on in (
                ("nstdb bw/em/ma noise from the first half of each record at 0-24 dB SNR (p=0.5), amplitude "
                 "x0.8-1.25, shift +-5 samples, residual wander +-0.1 mV", cfg["augment"]),
                (f"synthetic atrial premature beats: in {cfg['premature_augment']:.0%} of all-normal runs, 1-3 "
                 "beats moved 15-40% of an RR interval earlier and labelled S" + (
                     ", each redrawn on the previous beat's T wave" if cfg["premature_waves"] else ""),
                 cfg["premature_augment"] > 0),
                (f"synthetic ventricular runs: in {cfg['ventricular_augment']:.0%} of all-normal runs of records with "
                 "PVCs, 3-8 beats replaced by the patient's own PVCs at 0.45-0.8 of the sinus interval, labelled V",
                 cfg["ventricular_augment"] > 0),
                (f"synthetic supraventricular tachycardia: in {cfg['supraventricular_augment']:.0%} of all-normal runs, "
                 "3-10 beats at 0.45-0.75 of the sinus interval with an abrupt onset, labelled S",
                 cfg["supraventricular_augment"] > 0),
                (f"synthetic sinus arrhythmia: in {cfg['sinus_augment']:.0%} of the all-normal runs left, the RR "
                 "intervals scaled by a 4-10 s sine of depth 5-20% and a drift of up to 30%, labelled N",
                 cfg["sinus_augment"] > 0),
                (f"atrial-fibrillation re-timing of {cfg['rhythm_augment']:.0%} of all-normal runs",
                 cfg["rhythm_augment"] > 0)) if on) or "none",
        },
        "cross_validation": cv,
        "training": {
            "epochs": len(history),
            "epoch_time_s": {dev.type: round(float(np.median([h["train_s"] for h in history])), 2),
                             **{kind: v["epoch_s"] for kind, v in others.items()}},
            "other_devices": others,  # where the other epoch times were measured, and how
            "final_fit_s": round(time.perf_counter() - t_final, 1),
            "total_time_s": round(time.perf_counter() - t0, 1),
            "hardware": {"device": str(dev), "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
                         "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                         "torch": torch.__version__, "python": platform.python_version()},
            "history": history,
            "processes": world,  # > 1: DistributedDataParallel under torchrun (batches split between them)
            "backend": torch.distributed.get_backend() if world > 1 else None,
        },
    }
    if cfg["evaluate_ds2"]:
        from ecgapp.evaluation import evaluate_at_rates
        card["ds2"] = evaluate_at_rates(model, DS2[:limit])
        print("DS2 (test, looked at once, after training):")
        for key, rep in card["ds2"].items():
            print(f"  {key}: {summary_line(rep['report'])}  ECE {rep.get('ece_uncalibrated')} -> {rep.get('ece')}")
    save_model(model, cfg["out"], card)
    if cv is not None:
        save_out_of_fold(cache, cfg["out"], cfg["folds"])
    print(f"wrote {cfg['out']}.pt and {cfg['out']}.json")
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return card


if __name__ == "__main__":
    main()
