"""train.py end to end on a tiny subset: cross-validation folds, the final fit, weights and a model card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import train
from ecgapp.crossval import balanced_folds, ds1_folds
from ecgapp.features import beat_inputs
from ecgapp.beats import extract_beats
from ecgapp.mitdb import DS1, load_record
from ecgapp.model import load_model


def test_folds_hold_every_ds1_patient_once_and_spread_s_and_v():
    folds = ds1_folds()
    held = [r for f in folds for r in f]
    assert sorted(held) == sorted(DS1) and len(folds) == 5
    assert {len(f) for f in folds} <= {4, 5}
    # the search beats a plain split: every fold holds S and V beats
    counts = np.array([[10, 0], [0, 10], [10, 0], [0, 10]])
    full = np.zeros((4, 5), int)
    full[:, 1:3] = counts
    fs = balanced_folds(full, n_folds=2, tries=50)
    assert all(full[f][:, 1].sum() == 10 and full[f][:, 2].sum() == 10 for f in fs)


def test_training_inputs_are_the_serving_inputs():
    """No skew: what train.py feeds the network (without augmentation) is what the app computes."""
    recs = train.load_beats(["119"], [360.0])
    w, r = train.batch_inputs(recs[0], 0, len(recs[0]["label"]), None)
    waves, rr = beat_inputs(extract_beats(load_record("119")))
    np.testing.assert_array_equal(w, waves)
    np.testing.assert_array_equal(r, rr)
    # the 128 Hz copy goes through the loading path and keeps every beat
    low = train.load_beats(["119"], [128.0])[0]
    assert len(low["label"]) == len(recs[0]["label"]) and (low["label"] == recs[0]["label"]).all()


def test_the_other_lead_is_a_second_view_of_the_same_beats():
    """--leads 2: each record also in its other lead (114 stores V5 first, MLII second), same beats and labels,
    through the serving path for that lead; the default lead (what held-out patients are read in) comes first."""
    recs = train.load_beats(["114"], [360.0], leads=2)
    assert [r["lead"] for r in recs] == ["MLII", "V5"]
    assert (recs[0]["label"] == recs[1]["label"]).all() and (recs[0]["label"] > 0).any()
    w, r = train.batch_inputs(recs[1], 0, len(recs[1]["label"]), None)
    waves, rr = beat_inputs(extract_beats(load_record("114"), lead="V5"))
    np.testing.assert_array_equal(w, waves)
    np.testing.assert_array_equal(r, rr)
    assert not np.allclose(w[:, 0], train.batch_inputs(recs[0], 0, len(recs[0]["label"]), None)[0][:, 0])
    assert [r["lead"] for r in train.load_beats(["114"], [360.0])] == ["MLII"]


def test_cross_validation_and_final_fit_write_weights_and_card(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "tiny"
    args = ["--max-records", "4", "--folds", "2", "--epochs", "1", "--out", str(out), "--seed", "3"]
    card = train.main(args)
    assert (tmp_path / "tiny.pt").is_file() and (tmp_path / "tiny.json").is_file()
    state = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert saved["architecture"] == "hybrid" and saved["parameters"] > 1000
    assert saved["data"]["train_records"] == list(DS1[:4])
    assert saved["command"].startswith("python train.py --max-records 4")
    cv = saved["cross_validation"]
    assert sorted(r for f in cv["folds"] for r in f) == sorted(DS1[:4])
    assert set(cv["decision_rule"]["logit_bias"]) == set("NSVFQ") and cv["decision_rule"]["temperature"] > 0
    assert cv["decision_rule"]["af_threshold"] in train.AF_THRESHOLDS
    assert set(cv["decision_rule"]["af_threshold_macro_f1"]) == {f"{t:g}" for t in train.AF_THRESHOLDS}
    assert "at_128Hz" in cv and len(cv["at_360Hz"]["fold_macro_f1"]) == 2
    assert saved["training"]["epochs"] == 1 and "cpu" in saved["training"]["epoch_time_s"]
    assert set(saved["ds2"]) == {"360Hz", "128Hz", "250Hz"}
    ds2 = saved["ds2"]["360Hz"]
    assert ds2["report"]["support"]["N"] > 1000 and len(ds2["per_record"]) == 4
    assert card["ds2"] == saved["ds2"]
    oof = np.load(tmp_path / "tiny_cv.npz")  # the out-of-fold logits the rule and temperature came from
    assert sorted(set(oof["records"])) == sorted(DS1[:4]) and oof["logits"].shape == (len(oof["labels"]), 5)
    model, _ = load_model(out, device="cpu")
    assert model.config.arch == "hybrid"
    assert model.temperature.item() == pytest.approx(cv["decision_rule"]["temperature"])
    assert model.af_threshold.item() == pytest.approx(cv["decision_rule"]["af_threshold"])
    assert tuple(cv["decision_rule"]["v_gate"]) in train.V_GATES and len(cv["decision_rule"]["v_gate_macro_f1"]) == len(train.V_GATES)
    assert model.v_gate.tolist() == pytest.approx(cv["decision_rule"]["v_gate"])
    assert oof["rr"].shape == (len(oof["labels"]), 10) and np.array_equal(oof["rr"][:, 0], oof["pre_rr"])
    # folds are cached: a second run reuses them and gives the same cross-validated figures
    again = train.main(args[:-2] + ["--seed", "3", "--final", "false"])
    assert again["at_360Hz"] == cv["at_360Hz"]


def test_seeds_make_runs_repeatable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--arch", "cnn", "--max-records", "1", "--epochs", "1", "--folds", "0", "--evaluate-ds2", "false"]
    a = train.main(args + ["--out", str(tmp_path / "a")])
    b = train.main(args + ["--out", str(tmp_path / "b")])
    assert a["training"]["history"][0]["loss"] == b["training"]["history"][0]["loss"]
    sa, sb = torch.load(tmp_path / "a.pt", weights_only=True), torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_torchrun_trains_with_two_processes_like_one(tmp_path):
    """DistributedDataParallel on 2 CPU processes (gloo): the copies stay identical, the first writes the weights,
    and with the random draws that differ between processes switched off (augmentation, rates, synthetic APCs and
    SV runs)
    the model is the one a single process trains, up to how the loss is averaged over the two halves."""
    import subprocess
    import sys

    from ecgapp.inference import classify_beats

    flags = ["--max-records", "4", "--epochs", "2", "--folds", "0", "--evaluate-ds2", "false", "--threads", "1",
             "--augment", "false", "--rates", "360", "--premature-augment", "0", "--supraventricular-augment", "0",
             "--ema", "0", "--invariance", "0"]
    root = Path(__file__).resolve().parent.parent
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(root / "train.py"), *flags, "--out", str(tmp_path / "two")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-6000:]
    assert two.stdout.count("wrote ") == 1  # only the first process writes
    card = json.loads((tmp_path / "two.json").read_text())
    assert card["training"]["processes"] == 2 and card["training"]["backend"] == "gloo"
    assert card["training"]["history"][-1]["replicas_identical"] is True
    # the shipped settings (subject-invariant training: its patient classifier is wrapped too) run as well
    inv = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(root / "train.py"), *flags[:-2], "--epochs", "1", "--out", str(tmp_path / "inv")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert inv.returncode == 0, inv.stderr[-6000:]
    card = json.loads((tmp_path / "inv.json").read_text())
    assert card["train_config"]["invariance"] > 0 and card["training"]["history"][-1]["replicas_identical"] is True
    train.main([*flags, "--out", str(tmp_path / "one")])
    one, _ = load_model(tmp_path / "one", device="cpu")
    both, _ = load_model(tmp_path / "two", device="cpu")
    a = torch.cat([p.detach().flatten() for p in one.parameters()])
    b = torch.cat([p.detach().flatten() for p in both.parameters()])
    assert float((a - b).norm() / a.norm()) < 0.2  # measured 0.09: the loss of each half is averaged on its own
    ta, tb = (classify_beats(m, extract_beats(load_record("119")))[2] for m in (one, both))
    assert (ta["label"] == tb["label"]).mean() > 0.85  # measured 0.92 after 2 epochs on 4 records
    assert np.corrcoef(ta["p_V"], tb["p_V"])[0, 1] > 0.99  # measured 0.9998: the same function of the beats
    for t in (ta, tb):  # ... and one that has learnt something: V beats score higher for V than N beats do
        assert t.loc[t["reference"] == "V", "p_V"].mean() > 2 * t.loc[t["reference"] == "N", "p_V"].mean()


def test_cached_folds_of_other_settings_are_refused_not_reused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--max-records", "4", "--folds", "2", "--fold", "0", "--epochs", "1", "--out", str(tmp_path / "x")]
    train.main(args)
    train.main(args)  # the same settings: the cached fold is used
    with pytest.raises(SystemExit, match=r"fold0\.npz was trained with other settings \(invariance\)"):
        train.main([*args, "--invariance", "0.5"])


def test_a_synthetic_rhythm_draws_only_for_an_eligible_stretch():
    """train.synthetic: off, too short, holding a non-N beat or not eligible -> False with no random draw (so a
    rhythm that is off leaves every other draw of a run as it was); otherwise one draw against its chance."""
    rec = {"label": np.array([0] * 20 + [2] + [0] * 20)}
    cfg = {"on": 1.0, "off": 0.0}

    def draws(*args, **kw) -> tuple[bool, bool]:
        rng = np.random.default_rng(0)
        got = train.synthetic(cfg, *args[:1], rec, *args[1:3], rng, *args[3:], **kw)
        return got, rng.random() != np.random.default_rng(0).random()  # (result, whether it drew)

    assert draws("off", 0, 20, 8) == (False, False)
    assert draws("on", 0, 5, 8) == (False, False)  # too short
    assert draws("on", 10, 30, 8) == (False, False)  # holds a V beat
    assert draws("on", 0, 20, 8, eligible=False) == (False, False)
    assert draws("on", 0, 20, 8) == (True, True)


def test_a_cache_written_before_a_setting_existed_is_read_with_the_value_it_had_then(tmp_path, monkeypatch):
    """Synthetic SV runs became the default after fold caches without the setting were written: such a cache was
    trained without them, so it is reused for --supraventricular-augment 0 and refused for the default."""
    monkeypatch.chdir(tmp_path)
    args = ["--max-records", "4", "--folds", "2", "--fold", "0", "--epochs", "1", "--out", str(tmp_path / "x")]
    train.main([*args, "--supraventricular-augment", "0"])
    path = tmp_path / "runs" / "x" / "seed0" / "fold0.npz"
    data = dict(np.load(path, allow_pickle=False))
    meta = json.loads(str(data.pop("meta")))
    del meta["settings"]["supraventricular_augment"]  # as an older train.py wrote it
    np.savez(path, meta=json.dumps(meta), **data)
    train.main([*args, "--supraventricular-augment", "0"])  # reused
    with pytest.raises(SystemExit, match=r"other settings \(supraventricular_augment\)"):
        train.main(args)
