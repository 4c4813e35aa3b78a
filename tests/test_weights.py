"""The shipped weights: they load safely, their model card is complete, and they classify real DS2 beats.

The per-record bars are ones any working model clears and random weights do not (checked below too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ecgapp.beats import RR_FEATURES, extract_beats
from ecgapp.evaluation import evaluate_records
from ecgapp.inference import predict_beats
from ecgapp.metrics import aami_report
from ecgapp.mitdb import DS2, TRAIN, VALIDATION, load_record
from ecgapp.model import BeatClassifier, ModelConfig, load_model

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "hybrid"
# (record, class, minimum Se): DS2 records never seen in training or selection
BARS = [("100", "N", 0.9), ("221", "V", 0.8), ("233", "V", 0.8), ("221", "N", 0.8)]


@pytest.fixture(scope="module")
def shipped():
    return load_model(WEIGHTS, device="cpu")


def _passes(model) -> list[bool]:
    results = []
    for name, cls, bar in BARS:
        beats = extract_beats(load_record(name))
        report = aami_report(beats.label, predict_beats(model, beats).argmax(axis=1))
        results.append(report.se[cls] >= bar)
    return results


def test_weights_load_safely_and_card_is_complete(shipped):
    model, card = shipped
    state = torch.load(WEIGHTS.with_suffix(".pt"), weights_only=True)
    assert set(state) == set(model.state_dict())
    assert card["architecture"] == "hybrid" and card["config"]["arch"] == "hybrid"
    assert card["config"]["rr_features"] == len(RR_FEATURES)
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    assert card["data"]["train_records"] == list(TRAIN) and card["data"]["validation_records"] == list(VALIDATION)
    assert card["data"]["test_records"] == list(DS2)
    assert card["command"].startswith("python train.py")
    assert card["training"]["epoch_time_s"]["cpu"] > 0
    assert set(card["ds2"]["Se"]) == set("NSVFQ") and card["ds2"]["support"]["S"] == 1837


def test_shipped_model_classifies_ds2_beats(shipped):
    model, _ = shipped
    assert all(_passes(model))


def test_random_weights_fail_the_same_bars():
    torch.manual_seed(0)
    assert not all(_passes(BeatClassifier(ModelConfig()).eval()))


def test_card_ds2_figures_are_reproduced(shipped):
    """python -m ecgapp evaluate reproduces the model card's DS2 table (the CPU path is deterministic)."""
    model, card = shipped
    report, _ = evaluate_records(model, DS2)
    want = np.array(card["ds2"]["confusion_matrix"]["counts"])
    assert np.abs(report.matrix - want).sum() <= 5  # thread-count rounding may flip a borderline beat
    assert report.macro_f1 == pytest.approx(card["ds2"]["macro_F1_NSV"], abs=0.002)
