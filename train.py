"""Train the beat classifier on MIT-BIH in the inter-patient paradigm and write weights/<name>.pt + .json.

    .venv/bin/python train.py --arch hybrid --seed 0 --out weights/hybrid

Train on DS1 minus the validation records, pick the epoch with the best validation macro-F1 (N, S, V), and
only then look at DS2, once, for the model card. Every config value below is also a flag (--epochs 5 ...).
Beats go through the same functions as in the app: extract_beats -> features.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import torch

from ecgapp.aami import AAMI_CLASSES
from ecgapp.augment import Augmenter
from ecgapp.beats import extract_beats
from ecgapp.evaluation import evaluate_records
from ecgapp.features import normalise_waves, record_scale, rr_inputs
from ecgapp.inference import predict_inputs
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS2, TRAIN, VALIDATION, load_record
from ecgapp.model import BeatClassifier, ModelConfig, count_parameters, pick_device, save_model

# ----------------------------------------------------------------------------------------------- config
_before_config = set(globals())
arch = "hybrid"  # hybrid | cnn | lstm
bidirectional = True  # LSTM reads the beat both ways (measured against one way: see README)
seed = 0
epochs = 30
patience = 8  # stop when validation macro-F1 has not improved for this many epochs
batch_size = 256
lr = 2e-3
weight_decay = 1e-4
normal_per_epoch = 20000  # N beats drawn anew each epoch; every S, V, F, Q beat is used every epoch
ema = 0.99  # validate and keep an exponential moving average of the weights (0 = off): steadier selection
class_weighting = "sqrt"  # loss weights: "sqrt" = sqrt(inverse frequency in the epoch's sample), "none"
augment = True  # nstdb noise (training half), amplitude scaling, time shift, residual baseline wander
max_records = 0  # > 0: only the first N records of each split (quick checks and tests)
evaluate_ds2 = True
device = ""  # "" = CUDA if available, else CPU
threads = 0  # CPU threads for torch (0 = torch's default)
out = "weights/hybrid"
# -------------------------------------------------------------------------------------------------------
CONFIG_KEYS = [k for k in globals() if k not in _before_config and not k.startswith("_")]


def parse_flags(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for key in CONFIG_KEYS:
        default = globals()[key]
        kind = (lambda s: s.lower() in ("1", "true", "yes")) if isinstance(default, bool) else type(default)
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, type=kind, default=default)
    return vars(parser.parse_args(argv))


def load_split(names) -> dict[str, np.ndarray]:
    """Beats of the given records, as mV windows plus what normalisation and the loss need."""
    parts = []
    for name in names:
        beats = extract_beats(load_record(name))
        parts.append({
            "windows": beats.windows, "scale": np.full(len(beats), record_scale(beats.windows), np.float32),
            "rr": rr_inputs(beats.rr), "label": beats.label,
        })
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def main(argv=None) -> dict:
    cfg = parse_flags(argv)
    torch.manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    dev = pick_device(cfg["device"] or None)
    use_amp = dev.type == "cuda"
    limit = cfg["max_records"] or None
    train_names, val_names = TRAIN[:limit], VALIDATION[:limit]

    t0 = time.perf_counter()
    train, val = load_split(train_names), load_split(val_names)
    val_waves = normalise_waves(val["windows"], val["scale"])
    print(f"data: {len(train['label'])} training beats from {len(train_names)} records, "
          f"{len(val['label'])} validation beats from {len(val_names)} records ({time.perf_counter() - t0:.1f} s)")

    model = BeatClassifier(ModelConfig(arch=cfg["arch"], bidirectional=cfg["bidirectional"])).to(dev)
    averaged = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg["ema"]), use_buffers=True)
        if cfg["ema"] else None)
    print(f"model: {cfg['arch']}, {count_parameters(model):,} parameters, device {dev}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"])
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    augmenter = Augmenter(rng) if cfg["augment"] else None
    normal = np.flatnonzero(train["label"] == 0)
    other = np.flatnonzero(train["label"] > 0)

    best = {"macro_f1": -2.0}
    history, epoch_times = [], []
    for epoch in range(1, cfg["epochs"] + 1):
        t_epoch = time.perf_counter()
        model.train()
        pick = np.concatenate([other, rng.choice(normal, min(cfg["normal_per_epoch"], normal.size), replace=False)])
        rng.shuffle(pick)
        counts = np.bincount(train["label"][pick], minlength=len(AAMI_CLASSES)).astype(np.float64)
        if cfg["class_weighting"] == "sqrt":
            # capped at 10: the 8 Q beats of DS1 would otherwise weigh 35 times a normal beat
            weights = np.where(counts > 0, np.minimum(np.sqrt(counts.max() / np.maximum(counts, 1)), 10.0), 0.0)
        else:
            weights = np.ones(len(AAMI_CLASSES))
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32, device=dev))
        total, n_seen = 0.0, 0
        for i in range(0, pick.size, cfg["batch_size"]):
            b = pick[i: i + cfg["batch_size"]]
            w = augmenter(train["windows"][b]) if augmenter else train["windows"][b]
            x = torch.from_numpy(normalise_waves(w, train["scale"][b])).to(dev)
            r = torch.from_numpy(train["rr"][b]).to(dev)
            y = torch.from_numpy(train["label"][b]).to(dev)
            with torch.autocast(dev.type, dtype=torch.float16, enabled=use_amp):
                loss = loss_fn(model(x, r), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if averaged is not None:
                averaged.update_parameters(model)
            total += loss.item() * b.size
            n_seen += b.size
        sched.step()
        train_time = time.perf_counter() - t_epoch
        epoch_times.append(train_time)
        kept = averaged.module if averaged is not None else model
        probs = predict_inputs(kept, val_waves, val["rr"])
        report = aami_report(val["label"], probs.argmax(axis=1))
        row = {"epoch": epoch, "loss": total / n_seen, "val_macro_f1": report.macro_f1,
               "val": report.to_dict(), "train_s": train_time}
        history.append(row)
        score = -1.0 if np.isnan(report.macro_f1) else report.macro_f1
        improved = score > best["macro_f1"]
        if improved:
            best = {"macro_f1": score, "epoch": epoch, "report": report.to_dict(),
                    "state": {k: v.detach().clone() for k, v in kept.state_dict().items()}}
        print(f"epoch {epoch:2d}  loss {row['loss']:.4f}  val macro-F1 {report.macro_f1:.4f}  "
              f"S Se {report.se['S']:.3f} +P {report.ppv['S']:.3f}  V Se {report.se['V']:.3f} +P {report.ppv['V']:.3f}  "
              f"{train_time:.1f} s{'  *' if improved else ''}", flush=True)
        if epoch - best["epoch"] >= cfg["patience"]:
            print(f"no improvement for {cfg['patience']} epochs: stopping")
            break

    model.load_state_dict(best["state"])
    card = {
        "name": cfg["out"].rstrip("/").split("/")[-1],
        "architecture": cfg["arch"],
        "command": "python train.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "train_config": cfg,
        "data": {
            "database": "MIT-BIH Arrhythmia Database 1.0.0 (PhysioNet), lead MLII, 360 Hz",
            "split": "inter-patient (de Chazal 2004): train DS1 minus validation, select on validation, test DS2",
            "train_records": list(train_names), "validation_records": list(val_names),
            "test_records": list(DS2[:limit]), "train_beats": int(train["label"].size),
            "class_imbalance": f"each epoch: all S/V/F/Q + {cfg['normal_per_epoch']} random N beats; "
                               f"loss weights {cfg['class_weighting']}",
            "augmentation": "nstdb bw/em/ma noise from the first half of each record at 0-24 dB SNR (p=0.5), "
                            "amplitude x0.8-1.25, shift +-5 samples, residual wander +-0.1 mV"
                            if cfg["augment"] else "none",
        },
        "training": {
            "best_epoch": best["epoch"], "epochs_run": len(history),
            "epoch_time_s": {dev.type: round(float(np.median(epoch_times)), 2)},
            "total_time_s": round(time.perf_counter() - t0, 1),
            "hardware": {"device": str(dev), "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
                         "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                         "torch": torch.__version__, "python": platform.python_version()},
        },
        "validation": best["report"],
        "history": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in h.items() if k != "val"}
                    for h in history],
    }
    if cfg["evaluate_ds2"]:
        report, _ = evaluate_records(model, DS2[:limit])
        card["ds2"] = report.to_dict()
        print("DS2 (test, looked at once, after training):")
        print(report.table())
    save_model(model, cfg["out"], card)
    print(f"wrote {cfg['out']}.pt and {cfg['out']}.json")
    return card


if __name__ == "__main__":
    main()
