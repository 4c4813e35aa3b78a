"""Model inputs, augmentation and the architectures (shapes, devices, safe save/load, sequence context)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgapp.augment import Augmenter, noise_bank, scale_noise_to_snr
from ecgapp.beats import RR_FEATURES, WINDOW_BEFORE, WINDOW_LENGTH, extract_beats
from ecgapp.features import beat_inputs, normalise_waves, record_scale, record_template
from ecgapp.mitdb import load_record
from ecgapp.model import ARCHITECTURES, BeatClassifier, ModelConfig, load_model, pick_device, save_model


@pytest.fixture(scope="module")
def beats119():
    return extract_beats(load_record("119"))


def test_beat_inputs_keep_relative_amplitude(beats119):
    waves, rr = beat_inputs(beats119)
    assert waves.shape == (len(beats119), 2, WINDOW_LENGTH) and waves.dtype == np.float32
    assert rr.shape == (len(beats119), len(RR_FEATURES)) and np.isfinite(rr).all()
    size = np.ptp(waves[:, 0], axis=1)
    assert np.median(size[beats119.label == 0]) == pytest.approx(1.0, abs=0.15)  # normal beats ~ 1
    assert np.median(size[beats119.label == 2]) > 1.3  # this patient's PVCs are taller than his normal beats
    # scaling the whole recording does not change what the model sees
    w3 = beats119.windows * 3
    np.testing.assert_allclose(normalise_waves(w3, record_scale(w3)), waves[:, :1], rtol=1e-4, atol=1e-5)


def test_template_is_the_dominant_normal_beat(beats119):
    """119 is in ventricular bigeminy for long stretches (444 PVCs among 1987 beats): the template must
    still be this patient's normal beat, not a blend of the two shapes."""
    waves, _ = beat_inputs(beats119)
    template = waves[0, 1]
    assert (waves[:, 1] == template).all()
    normal = np.median(waves[beats119.label == 0, 0], axis=0)
    pvc = np.median(waves[beats119.label == 2, 0], axis=0)
    assert np.corrcoef(template, normal)[0, 1] > 0.98
    assert np.abs(template - normal).mean() < 0.3 * np.abs(pvc - normal).mean()
    assert record_template(np.zeros((0, WINDOW_LENGTH))).shape == (WINDOW_LENGTH,)


def test_noise_halves_do_not_overlap():
    train, test = noise_bank("train"), noise_bank("test")
    assert len(train) == len(test) == 6  # bw, em, ma x 2 channels
    assert all(a.size == 325000 for a in train) and all(np.isfinite(a).all() for a in train)
    assert not np.array_equal(train[0][:1000], test[0][:1000])


def test_noise_is_scaled_to_the_asked_snr():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(4, 256))
    power = np.array([1.0, 0.5, 2.0, 1.0])
    scaled = scale_noise_to_snr(power, noise, np.array([0.0, 6.0, 12.0, 24.0]))
    snr = 10 * np.log10(power / np.mean(scaled ** 2, axis=1))
    np.testing.assert_allclose(snr, [0, 6, 12, 24], atol=1e-6)


def test_augmenter_changes_beats_reproducibly(beats119):
    w = beats119.windows[:64]
    a = Augmenter(np.random.default_rng(1))(w)
    b = Augmenter(np.random.default_rng(1))(w)
    np.testing.assert_array_equal(a, b)
    assert a.shape == w.shape and not np.allclose(a, w)
    corr = [np.corrcoef(x, y)[0, 1] for x, y in zip(a, w)]
    assert np.median(corr) > 0.5  # still the same beat underneath


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_architectures_forward_and_learn(arch):
    torch.manual_seed(0)
    model = BeatClassifier(ModelConfig(arch=arch, dropout=0.0))
    waves, rr = torch.randn(32, 2, WINDOW_LENGTH), torch.randn(32, len(RR_FEATURES))
    target = torch.arange(32) % 5
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(waves, rr), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model(waves, rr).shape == (32, 5)
    assert losses[-1] < 0.5 * losses[0]  # it can fit a small batch: gradients reach every part


def test_hybrid_and_baselines_share_parts():
    hybrid, cnn, intrabeat, lstm = (BeatClassifier(ModelConfig(arch=a)) for a in ("hybrid", "cnn", "intrabeat", "lstm"))
    assert str(hybrid.cnn) == str(cnn.cnn) and str(hybrid.embed) == str(cnn.embed)
    assert hybrid.beat_lstm.bidirectional and not hasattr(cnn, "beat_lstm")
    assert intrabeat.lstm.hidden_size == lstm.lstm.hidden_size
    assert not hasattr(cnn, "lstm") and not hasattr(lstm, "cnn")
    assert hybrid.is_sequence and not cnn.is_sequence
    with pytest.raises(ValueError, match="unknown architecture"):
        BeatClassifier(ModelConfig(arch="transformer"))


def test_region_pooling_tells_where_a_beat_differs():
    """pool="regions" (experiments row 46): the R peak falls in the QRS region, and a bump before the QRS (a P wave
    unlike the template's) and the same bump after it (a T wave) reach different parts of the embedding's input,
    while whole-window pooling mixes them."""
    regions = BeatClassifier(ModelConfig(pool="regions")).eval()
    (p0, p1), (q0, q1), (t0, t1) = regions.pool_steps()
    down = 1 << len(regions.config.channels)
    assert p0 == 0 and p1 == q0 and q1 == t0 and t1 * down == WINDOW_LENGTH
    assert q0 * down < WINDOW_BEFORE < q1 * down
    assert BeatClassifier(ModelConfig()).pool_steps() == [(0, WINDOW_LENGTH // down)]
    with pytest.raises(ValueError, match="unknown pooling"):
        BeatClassifier(ModelConfig(pool="median"))

    def pooled(model, centre=None):
        waves = torch.zeros(1, 2, WINDOW_LENGTH)
        if centre is not None:
            waves[0, 0, centre - 10:centre + 10] = 1.0  # the beat differs from the template here only
        seen = {}
        handle = model.embed.register_forward_hook(lambda m, x, y: seen.update(z=x[0]))
        model.encode(waves, torch.ones(1, len(RR_FEATURES)))
        handle.remove()
        return seen["z"][0, :-model.config.rr_hidden].reshape(-1, 2 * model.config.channels[-1])

    flat, p_wave, t_wave = pooled(regions), pooled(regions, WINDOW_BEFORE - 50), pooled(regions, WINDOW_BEFORE + 100)
    assert p_wave.shape == (3, 2 * regions.config.channels[-1])
    assert (p_wave[0] - flat[0]).abs().max() > 1e-3 and torch.equal(p_wave[2], flat[2])  # a P wave: P region only
    assert (t_wave[2] - flat[2]).abs().max() > 1e-3 and torch.equal(t_wave[0], flat[0])  # a T wave: ST-T only


def test_sequence_model_reads_a_fixed_neighbourhood():
    """A beat's logits depend on it and `context` beats each side, nothing further, and not on how the
    record is batched: the same beats give the same logits alone, in a longer record, or in 7-beat batches."""
    from ecgapp.inference import predict_logits

    torch.manual_seed(0)
    model = BeatClassifier(ModelConfig(arch="hybrid", context=2)).eval()
    waves = np.random.default_rng(0).normal(size=(40, 2, WINDOW_LENGTH)).astype(np.float32)
    rr = np.random.default_rng(1).normal(size=(40, len(RR_FEATURES))).astype(np.float32)
    whole = predict_logits(model, waves, rr)
    np.testing.assert_allclose(predict_logits(model, waves, rr, batch_size=7), whole, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(waves), torch.from_numpy(rr)).numpy(), whole, rtol=1e-5, atol=1e-5)
    changed = waves.copy()
    changed[20] += 1.0  # beat 20 changes: only beats 18..22 may change
    diff = np.abs(predict_logits(model, changed, rr) - whole).max(axis=1)
    assert (diff[18:23] > 1e-6).all() and (np.delete(diff, range(18, 23)) < 1e-7).all()
    # a record of 3 beats (fewer than the neighbourhood) still gets one label per beat
    assert predict_logits(model, waves[:3], rr[:3]).shape == (3, 5)
    assert predict_logits(model, waves[:0], rr[:0]).shape == (0, 5)


def test_af_gate_is_part_of_every_path():
    """With an AF threshold set, beats in an irregularly irregular stretch lose S (by the gate's penalty over
    the temperature) in forward and predict_logits alike; the other classes and the regular beats are kept."""
    from ecgapp.inference import predict_logits
    from ecgapp.rhythm import AF_GATE_PENALTY

    torch.manual_seed(0)
    model = BeatClassifier(ModelConfig(arch="hybrid", context=2)).eval()
    with torch.no_grad():
        model.head[-1].bias[2] = -20.0  # no beat reads as V (the detector would leave its intervals out)
    rng = np.random.default_rng(0)
    n = 200
    waves = rng.normal(size=(n, 2, WINDOW_LENGTH)).astype(np.float32)
    rr = np.ones((n, len(RR_FEATURES)), np.float32)
    rr[:, 0] = np.concatenate([np.full(100, 0.8), rng.uniform(0.4, 1.1, 100)])  # sinus, then AF
    plain = predict_logits(model, waves, rr)
    model.af_threshold.fill_(0.1)
    model.temperature.fill_(2.0)
    logits, af = predict_logits(model, waves, rr, return_af=True)
    assert af[150:].all() and not af[:60].any()
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(waves), torch.from_numpy(rr)).numpy(), logits,
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits[af, 1], plain[af, 1] / 2.0 - AF_GATE_PENALTY / 2.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.delete(logits, 1, axis=1), np.delete(plain, 1, axis=1) / 2.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits[~af], plain[~af] / 2.0, rtol=1e-5, atol=1e-5)


def test_save_and_safe_load(tmp_path):
    model = BeatClassifier(ModelConfig(arch="cnn", channels=(8, 16, 32)))
    save_model(model, tmp_path / "m", {"name": "m"})
    loaded, card = load_model(tmp_path / "m", device="cpu")
    assert card["config"]["channels"] == [8, 16, 32] and card["parameters"] > 0
    x, r = torch.randn(4, 2, WINDOW_LENGTH), torch.randn(4, len(RR_FEATURES))
    model.eval()
    torch.testing.assert_close(loaded(x, r), model(x, r))
    assert pick_device().type in ("cpu", "cuda")
    # a pickle with code in it is refused by weights_only loading
    torch.save({"evil": object()}, tmp_path / "bad.pt")
    (tmp_path / "bad.json").write_text((tmp_path / "m.json").read_text())
    with pytest.raises(Exception, match="(?i)weights_only|unsupported"):
        load_model(tmp_path / "bad", device="cpu")


def one_class_record(k: int, n: int = 40):
    """(model, waves, rr): a small hybrid whose head reads every beat as class ``k`` and a record of ``n`` random beats,
    every second one premature (pre RR 0.7 of the local RR), the rest on time at the record's usual rate."""
    from ecgapp.inference import predict_logits

    torch.manual_seed(0)
    model = BeatClassifier(ModelConfig(arch="hybrid", context=2)).eval()
    with torch.no_grad():
        model.head[-1].bias[k] = 20.0
    rng = np.random.default_rng(0)
    waves = rng.normal(size=(n, 2, WINDOW_LENGTH)).astype(np.float32)
    rr = np.ones((n, len(RR_FEATURES)), np.float32)
    rr[::2, RR_FEATURES.index("pre_rr_local")] = 0.7  # every second beat premature
    assert (predict_logits(model, waves, rr).argmax(axis=1) == k).all()
    return model, waves, rr


def test_on_time_v_gate_is_part_of_every_path():
    """With the on-time V gate set, a beat read as V that comes on time is N in forward, predict_logits and the
    explanation alike; a premature beat read as V stays V."""
    from ecgapp.explain import explain_beat
    from ecgapp.inference import predict_logits

    model, waves, rr = one_class_record(2)  # every beat reads as V
    n = len(waves)
    model.v_gate.copy_(torch.tensor([0.9, 1.1, 0.8, 1.0]))
    model.temperature.fill_(2.0)
    rule = predict_logits(model, waves, rr, return_rule=True)
    logits, af, on_time_v = rule.scores, rule.af, rule.on_time_v
    assert on_time_v.tolist() == [False, True] * (n // 2) and not af.any() and not rule.by_template.any()
    assert (logits.argmax(axis=1) == np.where(on_time_v, 0, 2)).all()
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(waves), torch.from_numpy(rr)).numpy(), logits,
                                   rtol=1e-5, atol=1e-5)
    expl = explain_beat(model, waves, rr, 1, method="Saliency", on_time_v=True)
    assert expl.predicted == "N" and expl.on_time_v
    from ecgapp.explain import reading
    assert any("the decision rule labels it N" in line for line in reading(expl))
    probs = np.exp(logits[1]) / np.exp(logits[1]).sum()
    assert [expl.probabilities[c] for c in "NSVFQ"] == pytest.approx(probs.tolist(), abs=1e-4)


def test_on_time_s_gate_is_part_of_every_path():
    """A model that reads every beat as S, every second beat premature: with the on-time S gate set, the on-time beats
    are labelled N in predict_logits and forward alike, the mask says which, and the explanation shows the served
    probabilities and says why; a reader who labels an on-time beat S turns the gate off in the adapted model."""
    from ecgapp.adapt import adapt_model
    from ecgapp.explain import explain_beat, reading
    from ecgapp.inference import predict_logits

    model, waves, rr = one_class_record(1)  # every beat reads as S
    n = len(waves)
    model.s_gate.copy_(torch.tensor([0.9, 0.8]))
    model.temperature.fill_(2.0)
    rule = predict_logits(model, waves, rr, return_rule=True)
    assert rule.on_time_s.tolist() == [False, True] * (n // 2) and not rule.on_time_v.any()
    assert (rule.scores.argmax(axis=1) == np.where(rule.on_time_s, 0, 1)).all()
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(waves), torch.from_numpy(rr)).numpy(), rule.scores,
                                   rtol=1e-5, atol=1e-5)
    expl = explain_beat(model, waves, rr, 1, method="Saliency", on_time_s=True)
    assert expl.predicted == "N" and expl.on_time_s
    assert "neither early against the local rhythm nor fast" in reading(expl)[1]  # right after the label
    probs = np.exp(rule.scores[1]) / np.exp(rule.scores[1]).sum()
    assert [expl.probabilities[c] for c in "NSVFQ"] == pytest.approx(probs.tolist(), abs=1e-4)
    premature_s = adapt_model(model, waves, rr, np.array([0, 1]), np.array([1, 0]), steps=1)
    assert premature_s.s_gate.tolist() == pytest.approx([0.9, 0.8])  # the reader's S is premature: the gate stays
    on_time_s = adapt_model(model, waves, rr, np.array([0, 1]), np.array([0, 1]), steps=1)
    assert on_time_s.s_gate.tolist() == [0.0, 0.0]  # the reader says an on-time beat is S: no gate for this patient
    assert model.s_gate.tolist() == pytest.approx([0.9, 0.8])  # the shipped model untouched


def two_shape_record(seed: int):
    """An untrained hybrid (context 2) and a record of two shapes in shuffled order, 40 beats of a narrow one and 20 of
    a wide, inverted one, at a steady rate: (model, kind (n,) 0/1, waves (n, 2, L), rr (n, 10))."""
    torch.manual_seed(0)
    model = BeatClassifier(ModelConfig(arch="hybrid", context=2)).eval()
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, WINDOW_LENGTH, dtype=np.float32)
    shapes = (np.exp(-((t - 0.35) / 0.02) ** 2), -1.5 * np.exp(-((t - 0.36) / 0.06) ** 2))
    kind = np.array([0] * 40 + [1] * 20)
    rng.shuffle(kind)
    waves = np.stack([np.stack([shapes[k] + 0.05 * rng.standard_normal(WINDOW_LENGTH).astype(np.float32),
                                shapes[0]]) for k in kind]).astype(np.float32)
    return model, kind, waves, np.ones((len(kind), len(RR_FEATURES)), np.float32)


def test_the_far_shape_step_is_part_of_every_path():
    """With ``far_shape`` set (and template consensus off), a record of two shapes whose beats the network reads as
    S: the beats of the rarer, far shape become V in forward and predict_logits alike, and are in the template mask;
    those of the dominant shape stay S; weights saved without the buffer load with it off."""
    from ecgapp.inference import predict_logits
    from ecgapp.model import complete_state

    model, kind, waves, rr = two_shape_record(seed=1)
    with torch.no_grad():  # S leads everywhere
        model.head[-1].bias[1] += 20.0
    assert np.all(predict_logits(model, waves, rr).argmax(axis=1) == 1)
    model.far_shape.fill_(0.6)
    logits, _, _, _, _, far_v, _ = predict_logits(model, waves, rr, return_rule=True)
    assert np.all(logits[kind == 1].argmax(axis=1) == 2) and np.all(logits[kind == 0].argmax(axis=1) == 1)
    assert np.array_equal(far_v, kind == 1)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(waves), torch.from_numpy(rr)).numpy(), logits,
                                   rtol=1e-5, atol=1e-5)
    state = {k: v for k, v in model.state_dict().items() if k != "far_shape"}
    assert float(complete_state(state)["far_shape"]) == 0.0


def test_template_consensus_is_part_of_every_path():
    """With ``template_mix`` set, a record of two shapes (40 beats of one, 20 of another): every beat of a shape
    gets the same N : V : F : Q proportions in forward and predict_logits alike; the beats whose label that
    changed are the template mask; each keeps its own S; the explanation shows the served probabilities and says
    that the template gave the label, its attribution the network's own."""
    from ecgapp.explain import explain_beat, reading
    from ecgapp.inference import predict_logits
    from ecgapp.templates import beat_templates

    model, kind, waves, rr = two_shape_record(seed=0)
    with torch.no_grad():  # N and V lead
        model.head[-1].bias[[0, 2]] += 5.0
    own = predict_logits(model, waves, rr)
    with torch.no_grad():  # N and V tied at the median of the first shape, so its beats split between them
        model.head[-1].bias[2] += float(np.median(own[kind == 0, 0] - own[kind == 0, 2]))
    own = predict_logits(model, waves, rr)
    assert len(np.unique(own[kind == 0].argmax(axis=1))) == 2
    model.template_mix.fill_(1.0)
    logits, af, on_time_v, by_template, _, _, _ = predict_logits(model, waves, rr, return_rule=True)
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(waves), torch.from_numpy(rr)).numpy(), logits,
                                   rtol=1e-5, atol=1e-5)
    p_own = np.exp(own) / np.exp(own).sum(axis=1, keepdims=True)
    p = np.exp(logits)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(p[:, 1], p_own[:, 1], rtol=1e-4)  # S: the beat's own
    assignment = beat_templates(waves, rr).assignment
    assert len(np.unique(assignment)) == 2 and all(len(np.unique(assignment[kind == k])) == 1 for k in (0, 1))
    rest = np.delete(p, 1, axis=1)
    ratios = rest / rest.sum(axis=1, keepdims=True)
    for k in (0, 1):
        np.testing.assert_allclose(ratios[kind == k], np.broadcast_to(ratios[kind == k].mean(axis=0), (
            (kind == k).sum(), 4)), atol=1e-5)
    assert np.array_equal(by_template, logits.argmax(axis=1) != own.argmax(axis=1)) and by_template.any()
    assert all(len(np.unique(logits[kind == k].argmax(axis=1))) == 1 for k in (0, 1))  # one label per shape
    i = int(np.flatnonzero(by_template)[0])
    expl = explain_beat(model, waves, rr, i, method="Saliency", served=p[i], by_template=bool(by_template[i]))
    assert expl.predicted == "NSVFQ"[logits[i].argmax()]
    assert [expl.probabilities[c] for c in "NSVFQ"] == pytest.approx(p[i].tolist(), abs=1e-6)
    assert [expl.network_probabilities[c] for c in "NSVFQ"] == pytest.approx(p_own[i].tolist(), abs=1e-4)
    assert expl.by_template and any("its template" in line for line in reading(expl))


def test_sv_run_rule_is_part_of_every_path():
    """With ``sv_run`` set, a burst of fast beats whose first beat the head reads as S (the head's logits are fixed
    here, so the test is about the rule's plumbing): predict_logits and forward both label the whole burst S, the
    run mask names the beats the rule changed, the beats table has them in ``sv_run``, and the explanation of one
    shows the served probabilities and says why."""
    from ecgapp.explain import explain_beat, reading
    from ecgapp.inference import predict_logits
    from ecgapp.beats import rr_features

    torch.manual_seed(0)
    model = BeatClassifier(ModelConfig(arch="hybrid", context=2)).eval()
    intervals = [0.8] * 30 + [0.45] * 8 + [0.9] + [0.8] * 30
    rr = rr_features(np.concatenate(([0.0], np.cumsum(intervals)))).astype(np.float32)
    n = len(rr)
    waves = np.random.default_rng(0).normal(size=(n, 2, WINDOW_LENGTH)).astype(np.float32)
    head = torch.tensor(np.tile([3.0, 1.0, 0.0, -1.0, -2.0], (n, 1)), dtype=torch.float32)
    head[31] = torch.tensor([1.0, 3.0, 0.0, -1.0, -2.0])

    def classify_raw(emb, index=None):  # the head's reading of beat i is row i, whatever the batch
        rows = torch.arange(emb.shape[0]) if index is None else index[:, index.shape[1] // 2]
        return head[rows.cpu()].to(emb.device)
    model.classify_raw = classify_raw
    logits, af, on_time_v, by_template, sv_run, _, _ = predict_logits(model, waves, rr, return_rule=True)
    assert not sv_run.any() and (logits.argmax(axis=1) == 1).sum() == 1  # the rule is off
    model.sv_run.copy_(torch.tensor([0.8, 0.2, 0.9]))
    logits, af, on_time_v, by_template, sv_run, _, _ = predict_logits(model, waves, rr, return_rule=True)
    assert np.flatnonzero(sv_run).tolist() == list(range(32, 39))
    assert np.flatnonzero(logits.argmax(axis=1) == 1).tolist() == list(range(31, 39))
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(waves), torch.from_numpy(rr)).numpy(), logits,
                                   rtol=1e-5, atol=1e-5)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expl = explain_beat(model, waves, rr, 34, method="Saliency", served=p[34], sv_run=True)
    assert expl.predicted == "S" and expl.sv_run and expl.network_probabilities is not None  # (the real head's)
    assert any("supraventricular tachycardia" in line for line in reading(expl))
