"""train.py end to end on a tiny subset: one quick epoch writes loadable weights and a model card."""

from __future__ import annotations

import json

import torch

import train
from ecgapp.model import load_model


def test_one_quick_epoch_writes_weights_and_card(tmp_path):
    out = tmp_path / "tiny"
    card = train.main(["--arch", "cnn", "--max-records", "2", "--epochs", "1", "--normal-per-epoch", "300",
                       "--out", str(out), "--seed", "3"])
    assert (tmp_path / "tiny.pt").is_file() and (tmp_path / "tiny.json").is_file()
    state = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert saved["architecture"] == "cnn" and saved["parameters"] > 1000
    assert saved["data"]["train_records"] == ["101", "108"] and saved["data"]["validation_records"] == ["106", "118"]
    assert saved["command"].startswith("python train.py --arch cnn")
    assert saved["training"]["epochs_run"] == 1 and "cpu" in saved["training"]["epoch_time_s"]
    assert set(saved["ds2"]["Se"]) == {"N", "S", "V", "F", "Q"} and saved["ds2"]["support"]["N"] > 1000
    assert card["ds2"] == saved["ds2"]
    model, _ = load_model(out, device="cpu")
    assert model.config.arch == "cnn"


def test_seeds_make_runs_repeatable(tmp_path):
    args = ["--arch", "cnn", "--max-records", "1", "--epochs", "1", "--normal-per-epoch", "200",
            "--evaluate-ds2", "false"]
    a = train.main(args + ["--out", str(tmp_path / "a")])
    b = train.main(args + ["--out", str(tmp_path / "b")])
    assert a["history"][0]["loss"] == b["history"][0]["loss"]
    sa, sb = torch.load(tmp_path / "a.pt", weights_only=True), torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
