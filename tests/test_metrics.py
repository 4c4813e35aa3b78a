"""AAMI EC57 statistics against hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ecgapp.metrics import aami_report, confusion_matrix


def _labels_from_matrix(m):
    true, pred = [], []
    for i in range(5):
        for j in range(5):
            true += [i] * m[i][j]
            pred += [j] * m[i][j]
    return np.array(true), np.array(pred)


def test_hand_computed_example():
    m = [[90, 5, 5, 0, 0],   # N: 100 reference beats, 90 right
         [10, 20, 0, 0, 0],  # S: 30 beats, 20 right
         [0, 0, 40, 0, 0],   # V: all 40 right
         [2, 0, 3, 5, 0],    # F: 10 beats, 5 right
         [0, 0, 0, 0, 0]]    # Q: none
    report = aami_report(*_labels_from_matrix(m))
    np.testing.assert_array_equal(report.matrix, m)
    assert report.se["N"] == pytest.approx(90 / 100) and report.ppv["N"] == pytest.approx(90 / 102)
    assert report.se["S"] == pytest.approx(20 / 30) and report.ppv["S"] == pytest.approx(20 / 25)
    assert report.se["V"] == pytest.approx(1.0) and report.ppv["V"] == pytest.approx(40 / 48)
    f1_s = 2 * (20 / 30) * (20 / 25) / (20 / 30 + 20 / 25)
    assert report.f1["S"] == pytest.approx(f1_s)
    f1_n = 2 * 0.9 * (90 / 102) / (0.9 + 90 / 102)
    f1_v = 2 * 1.0 * (40 / 48) / (1.0 + 40 / 48)
    assert report.macro_f1 == pytest.approx((f1_n + f1_s + f1_v) / 3)
    assert report.accuracy == pytest.approx(155 / 180)
    assert math.isnan(report.se["Q"]) and math.isnan(report.ppv["Q"]) and math.isnan(report.f1["Q"])
    assert report.support == {"N": 100, "S": 30, "V": 40, "F": 10, "Q": 0}
    d = json.loads(json.dumps(report.to_dict()))
    assert d["Se"]["Q"] is None and d["Se"]["S"] == round(20 / 30, 4) and d["confusion_matrix"]["counts"] == m
    text = report.table()
    assert "macro-F1 (N, S, V)" in text and "   90" in text and "0.667" in text
    assert report.markdown().splitlines()[3].startswith("| S | 0.667 | 0.800 |")


def test_perfect_and_unlabelled():
    true = np.array([0, 1, 2, 3, 4, 0, -1])
    pred = np.array([0, 1, 2, 3, 4, 0, 2])  # the -1 beat has no reference: ignored
    report = aami_report(true, pred)
    assert report.matrix.sum() == 6 and report.accuracy == 1.0 and report.macro_f1 == 1.0
    no_s = aami_report([0, 0, 2], [0, 0, 2])  # a validation subset without S beats
    assert math.isnan(no_s.f1["S"]) and no_s.macro_f1 == 1.0
    assert all(v == 1.0 for v in report.se.values())


def test_class_never_predicted_has_zero_se_nan_ppv_and_zero_f1():
    report = aami_report([0, 0, 1, 1, 2], [0, 0, 0, 0, 2])
    assert report.se["S"] == 0.0 and math.isnan(report.ppv["S"]) and report.f1["S"] == 0.0
    assert report.macro_f1 == pytest.approx((2 * 2 / (4 + 2) + 0 + 1) / 3)


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="3 reference labels but 2 predictions"):
        confusion_matrix([0, 1, 2], [0, 1])


def test_unlabelled_prediction_ignored_and_false_positive_only_class():
    # reference N N V F, predicted N -1 V V: the -1 prediction drops that beat; F is predicted nowhere,
    # V is predicted for the F beat, so V has TP=1, FP=1 -> +P 0.5, F1 = 2/(2+1+0) = 2/3; F has Se 0, +P NaN, F1 0
    report = aami_report([0, 0, 2, 3], [0, -1, 2, 2])
    assert report.matrix.sum() == 3 and report.support["N"] == 1
    assert report.ppv["V"] == 0.5 and report.f1["V"] == pytest.approx(2 / 3)
    assert report.se["F"] == 0.0 and math.isnan(report.ppv["F"]) and report.f1["F"] == 0.0
    # S predicted but absent from the reference: Se NaN, +P 0, F1 0 and it counts in macro-F1
    fp_s = aami_report([0, 0], [0, 1])
    assert math.isnan(fp_s.se["S"]) and fp_s.ppv["S"] == 0.0 and fp_s.f1["S"] == 0.0
    assert fp_s.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)  # N: 2*1/(2+0+1); V absent on both sides


def test_table_and_markdown_layout():
    report = aami_report([0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 2, 0])
    lines = report.table().splitlines()
    assert lines[0].split()[-5:] == list("NSVFQ")
    assert [line.split()[0] for line in lines[1:6]] == list("NSVFQ")
    assert lines[1].split()[1:] == ["2", "1", "0", "0", "0"]  # row N of the matrix
    assert "nan" in report.table() and "accuracy 0.6667" in report.table()
    md = report.markdown().splitlines()
    assert len(md) == 7 and all(line.startswith("|") and line.endswith("|") for line in md)


def test_empty_input():
    report = aami_report(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert report.matrix.shape == (5, 5) and report.matrix.dtype == np.int64 and report.matrix.sum() == 0
    assert math.isnan(report.accuracy) and math.isnan(report.macro_f1)
    d = json.loads(json.dumps(report.to_dict()))
    assert d["accuracy"] is None and d["macro_F1_NSV"] is None
    report.table()  # formats without error


def test_summed_record_matrices_score_as_the_pooled_beats_and_the_patient_bootstrap_sees_one_record_carry_a_gain():
    """``report_from_matrix`` of per-record confusion matrices summed equals ``aami_report`` of the beats pooled; the
    patient bootstrap of bench_adapt (records drawn with replacement) gives a small spread to a gain every record
    shares and a large one to the same gain carried by a single record."""
    from benchmarks.bench_adapt import patient_bootstrap
    from ecgapp.metrics import report_from_matrix
    rng = np.random.default_rng(0)
    truth = [rng.choice(3, 2000, p=[0.8, 0.1, 0.1]) for _ in range(20)]
    base = [np.where(rng.random(t.size) < 0.8, t, 0) for t in truth]
    pooled = report_from_matrix(sum(confusion_matrix(t, p) for t, p in zip(truth, base)))
    assert pooled.matrix.tolist() == aami_report(np.concatenate(truth), np.concatenate(base)).matrix.tolist()
    assert pooled.f1 == aami_report(np.concatenate(truth), np.concatenate(base)).f1
    everywhere = [np.where((t > 0) & (rng.random(t.size) < 0.5), t, p) for t, p in zip(truth, base)]
    one = [t if i == 0 else p for i, (t, p) in enumerate(zip(truth, base))]  # record 0 all right, the rest as before
    rows = {"base": (truth, base), "everywhere": (truth, everywhere), "one": (truth, one)}
    shared = patient_bootstrap(rows, "base", "everywhere", draws=300)
    single = patient_bootstrap(rows, "base", "one", draws=300)
    assert shared["SVEB F1"][0] > 0.05 and shared["SVEB F1"][1] < shared["SVEB F1"][0] / 4
    assert single["SVEB F1"][0] > 0 and single["SVEB F1"][1] > single["SVEB F1"][0] / 2


def test_the_per_seed_summary_lists_each_set_of_fold_networks_and_their_mean():
    """bench_adapt's table over several sets of fold networks (rows 48b and 49b): one column per set, the mean last."""
    from benchmarks.bench_adapt import SEED_ROWS, seed_summary
    from ecgapp.metrics import report_from_matrix
    good, poor = np.diag([90, 8, 10, 0, 0]), np.diag([90, 8, 10, 0, 0])
    poor[1, 1], poor[1, 0] = 4, 4  # half the S beats read N
    text = seed_summary("t", "cmd", {"seed0": {k: report_from_matrix(good) for k in SEED_ROWS},
                                     "seed1": {k: report_from_matrix(poor) for k in SEED_ROWS}})
    row = next(line for line in text.splitlines() if line.startswith("| (a) one label per template, given"))
    cells = [c.strip() for c in row.split("|")[2:-1]]
    s_poor = report_from_matrix(poor).f1["S"]
    assert cells[0].startswith("1.000 /") and cells[1].startswith(f"{s_poor:.3f} /")
    assert cells[2].startswith(f"{(1 + s_poor) / 2:.3f} /")
    assert "`seed0`" in text and "`seed1`" in text
