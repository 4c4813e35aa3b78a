"""The ablation's bookkeeping: seeds added to a stored row give the figures all the seeds would have given; two weight
files compared tensor by tensor."""

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.ablation import _combine, compare, extend


def _row(values, seeds):
    stat = [float(np.mean(values)), float(np.std(values))]
    return {"seeds": len(values), "seed list": seeds,
            "cv": {"macro-F1": stat, "n": len(values)}, "cv128": {"macro-F1": stat, "n": len(values)},
            "cv fold macro-F1": stat}


def test_combining_two_groups_of_seeds_equals_summarising_all_of_them():
    old, new = [0.829, 0.837, 0.798, 0.765, 0.776], [0.81, 0.79, 0.84]
    both = _combine([np.mean(old), np.std(old)], 5, [np.mean(new), np.std(new)], 3)
    assert both == pytest.approx([np.mean(old + new), np.std(old + new)], abs=1e-4)
    row = extend(_row(old, [0, 1, 2, 3, 4]), _row(new, [5, 6, 7]))
    assert row["seed list"] == list(range(8)) and row["cv"]["n"] == 8 and row["seeds"] == 8
    assert row["cv"]["macro-F1"] == pytest.approx([np.mean(old + new), np.std(old + new)], abs=1e-4)


def test_extending_with_a_seed_already_in_the_row_is_refused():
    with pytest.raises(SystemExit, match="already"):
        extend(_row([0.8, 0.7], [0, 1]), _row([0.75], [1]))


def test_compare_uses_the_welch_standard_error_of_sample_spreads():
    a, b = [0.829, 0.837, 0.798, 0.765, 0.776], [0.838, 0.832, 0.853, 0.831, 0.801]
    se = np.sqrt(np.var(a, ddof=1) / 5 + np.var(b, ddof=1) / 5)
    text = compare({"a": _row(a, [0]), "b": _row(b, [0])}, "a", "b")
    first = text.splitlines()[0]
    assert f"= {np.mean(b) - np.mean(a):+.4f}" in first and f"Welch SE {se:.4f}" in first
    assert f"{(np.mean(b) - np.mean(a)) / se:+.2f} SE" in first


def test_same_weights_finds_the_tensor_that_differs():
    """benchmarks.same_weights backs the README's "bit for bit" claims: the shipped weights equal themselves, and a
    copy with one value changed by one ulp, or one tensor missing, is told apart by name."""
    from benchmarks.same_weights import compare

    shipped = torch.load(Path(__file__).resolve().parent.parent / "weights" / "hybrid.pt", weights_only=True)
    assert compare(shipped, {k: v.clone() for k, v in shipped.items()}) == ([], [])
    nudged = {k: v.clone() for k, v in shipped.items()}
    w = nudged["head.1.weight"].view(-1)
    w[0] = torch.nextafter(w[0], torch.tensor(float("inf")))
    del nudged["temperature"]
    assert compare(shipped, nudged) == (["head.1.weight"], ["temperature"])
