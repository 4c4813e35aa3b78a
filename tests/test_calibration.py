"""Decision rule and temperature scaling (ecgapp.calibration) on synthetic logits with known answers."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from ecgapp.calibration import expected_calibration_error, fit_logit_bias, fit_temperature


def overconfident(n=4000, seed=0):
    """Logits of a 5-class model that is right ~80% of the time but claims ~99%."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(5, size=n, p=[0.6, 0.1, 0.2, 0.05, 0.05])
    guess = np.where(rng.random(n) < 0.8, labels, rng.integers(0, 5, n))
    logits = rng.normal(0, 0.5, (n, 5))
    logits[np.arange(n), guess] += 6.0
    return logits, labels


def test_temperature_fixes_overconfidence():
    logits, labels = overconfident()
    t = fit_temperature(logits[:2000], labels[:2000])  # fitted on one half ...
    assert t > 1.5
    before = expected_calibration_error(softmax(logits[2000:], axis=1), labels[2000:])  # ... judged on the other
    after = expected_calibration_error(softmax(logits[2000:] / t, axis=1), labels[2000:])
    assert before > 0.1 and after < 0.05
    # temperature never changes the label
    assert (softmax(logits / t, axis=1).argmax(1) == logits.argmax(1)).all()


def test_ece_of_a_perfectly_calibrated_model_is_small():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5) * 0.3, size=20000)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    assert expected_calibration_error(probs, labels) < 0.02
    assert np.isnan(expected_calibration_error(probs[:0], labels[:0]))


def test_bias_recovers_a_rare_class_and_caps_f():
    """A model that under-calls S (its S logit is 2 too low) and over-calls F: the rule raises S and keeps
    F predictions at or under the real F count."""
    rng = np.random.default_rng(2)
    n = 6000
    labels = rng.choice(5, size=n, p=[0.8, 0.08, 0.08, 0.02, 0.02])
    logits = rng.normal(0, 1, (n, 5))
    logits[np.arange(n), labels] += 3.0
    logits[:, 1] -= 2.0
    logits[:, 3] += 1.5
    bias = fit_logit_bias(logits, labels)
    assert bias[0] == 0 and bias[1] >= 0.75 and bias[3] < 0
    pred = (logits + bias).argmax(1)
    assert (pred == 3).sum() <= (labels == 3).sum()
    raw_s = ((logits.argmax(1) == 1) & (labels == 1)).sum()
    assert ((pred == 1) & (labels == 1)).sum() > raw_s * 1.2
