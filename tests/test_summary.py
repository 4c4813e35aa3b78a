"""Rhythm summary (heart rate, burden) and agreement with reference labels, on real records."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecgapp import extract_beats, load_record
from ecgapp.inference import beats_table
from ecgapp.summary import agreement, agreement_frames, heart_rate, rhythm_summary


def reference_table(name: str) -> pd.DataFrame:
    """Beats table whose predictions are the reference labels (a perfect classifier)."""
    beats = extract_beats(load_record(name))
    probs = np.eye(5, dtype=np.float32)[beats.label]
    return beats_table(beats, probs)


def test_heart_rate_of_a_steady_rhythm_and_a_pause():
    t = np.arange(0, 60, 0.75)  # 80 bpm
    hr = heart_rate(t)
    assert hr == pytest.approx({"mean": 80.0, "min": 80.0, "max": 80.0})
    paused = np.concatenate([t[:40], t[40:] + 2.25])  # one 3 s pause: the mean drops, one beat is not "min HR"
    hr = heart_rate(paused)
    assert hr["mean"] < 80 and hr["min"] == pytest.approx(80.0) and hr["max"] == pytest.approx(80.0)
    broken = np.zeros(len(paused) - 1, bool)
    broken[39] = True  # the pause spans missing data: left out
    assert heart_rate(paused, broken)["mean"] == pytest.approx(80.0)
    assert all(math.isnan(v) for v in heart_rate(np.array([1.0])).values())


def test_summary_of_record_119_matches_its_annotations():
    table = reference_table("119")
    s = rhythm_summary(table)
    assert s["beats"] == 1987 and s["counts"] == {"N": 1543, "S": 0, "V": 444, "F": 0, "Q": 0}
    assert s["burden_pct"]["V"] == pytest.approx(100 * 444 / 1987) and s["burden_pct"]["S"] == 0
    duration_min = (table["time_s"].iloc[-1] - table["time_s"].iloc[0]) / 60
    assert s["heart_rate_bpm"]["mean"] == pytest.approx(1986 / duration_min, rel=1e-3)
    assert 30 < s["heart_rate_bpm"]["min"] < s["heart_rate_bpm"]["mean"] < s["heart_rate_bpm"]["max"] < 200


def test_af_share_comes_from_the_table():
    table = reference_table("119")
    assert rhythm_summary(table)["af_pct"] == 0.0  # beats_table without a mask: no AF
    table["af"] = np.arange(len(table)) < 100
    assert rhythm_summary(table)["af_pct"] == pytest.approx(100 * 100 / 1987)
    assert math.isnan(rhythm_summary(table.iloc[:0])["af_pct"])


def test_agreement_counts_only_beats_with_a_reference():
    table = reference_table("208")
    report = agreement(table)
    assert report.accuracy == 1.0 and report.matrix.sum() == len(table)
    flipped = table.copy()
    flipped.loc[flipped["reference"] == "V", "label"] = "N"
    report = agreement(flipped)
    assert report.se["V"] == 0.0 and report.support["V"] == (table["reference"] == "V").sum()
    stats, matrix = agreement_frames(report)
    assert matrix.loc["ref V", "pred N"] == report.support["V"] and stats.loc["N", "Se"] == 1.0
    assert agreement(table.assign(reference="")) is None


def test_trust_notes_fire_on_doubtful_tables_only():
    from ecgapp.summary import trust_notes

    n = 200
    calm = pd.DataFrame({"time_s": np.arange(n) * 0.8, "label": ["N"] * n, "confidence": [0.99] * n,
                         "template_r": [0.95] * n, "reference": ["N"] * n})
    assert trust_notes(calm) == []
    unsure = calm.assign(confidence=np.where(np.arange(n) % 5 == 0, 0.5, 0.99))  # 20% under 60%
    assert any("less than 60% confidence" in t for t in trust_notes(unsure))
    v_like = calm.assign(label=np.where(np.arange(n) < 40, "V", "N"))  # V beats shaped like the dominant beat
    assert any("40 beats labelled V look like this record's dominant beat" in t for t in trust_notes(v_like))
    # beats the far-shape step made V had their QRS measured against the normal shapes: not counted again by the
    # whole-window correlation, so the two notes never speak of the same beats
    far = v_like.assign(far_shape=np.arange(n) < 30)
    assert not any("dominant beat" in t for t in trust_notes(far))  # 10 left, under 20
    assert any("40 beats labelled V" in t for t in trust_notes(v_like.assign(far_shape=False)))
    s_heavy = calm.assign(label=np.where(np.arange(n) < 60, "S", "N"))
    assert any("30% of beats labelled S" in t for t in trust_notes(s_heavy))
    gated = calm.assign(on_time_v=np.arange(n) < 25)  # the network read V, the on-time V gate labelled them N
    assert any("25 beats the network read as ventricular came on time" in t for t in trust_notes(gated))
    assert trust_notes(calm.assign(on_time_v=np.arange(n) < 5)) == []
    on_time_s = calm.assign(on_time_s=np.arange(n) < 30)  # the network read S, the on-time S gate labelled them N
    assert any("30 beats the network read as supraventricular came neither early" in t for t in trust_notes(on_time_s))
    relabelled = on_time_s.assign(label=np.where(np.arange(n) < 15, "S", "N"))  # a reader gave 15 of them S back
    assert not any("neither early" in t for t in trust_notes(relabelled))  # 15 left, under 20


def test_record_roles():
    from ecgapp.mitdb import DS1, DS2, PACED_RECORDS, record_info, record_role

    assert {record_role(r) for r in DS1} == {"training"} and {record_role(r) for r in DS2} == {"test"}
    assert {record_role(r) for r in PACED_RECORDS} == {"paced"}
    assert record_info("232").label.endswith("(test patient, DS2)")


def test_trust_notes_name_the_beats_a_rhythm_rule_labelled_while_they_keep_its_label():
    """A trust note counts the beats the supraventricular run rule made S (sv_run), the on-time V gate made N
    (on_time_v) and the far-shape step made V (far_shape), each once there are enough of them; beats a reader has
    relabelled since no longer count."""
    from ecgapp.summary import FAR_SHAPE_NOTE, ON_TIME_V_NOTE, SV_RUN_NOTE, trust_notes

    table = reference_table("100")
    assert not any("fast runs" in n or "came on time" in n for n in trust_notes(table))
    runs = table.index[:SV_RUN_NOTE]
    table.loc[runs, ["label", "sv_run"]] = ["S", True]
    gated = table.index[100:100 + ON_TIME_V_NOTE]
    table.loc[gated, "on_time_v"] = True
    notes = trust_notes(table)
    assert any(n.startswith(f"{SV_RUN_NOTE:,} beats") and "fast runs" in n for n in notes)
    assert any(n.startswith(f"{ON_TIME_V_NOTE:,} beats") and "came on time" in n for n in notes)
    table.loc[runs[:1], "label"] = "N"  # the reader relabelled one: too few left for the note
    assert not any("fast runs" in n for n in trust_notes(table))
    assert not any("dominant beat" in n for n in trust_notes(table))
    far = table.index[200:200 + FAR_SHAPE_NOTE]
    table.loc[far, ["label", "far_shape"]] = ["V", True]
    assert any(n.startswith(f"{FAR_SHAPE_NOTE:,} beats") and "Aberrantly conducted" in n for n in trust_notes(table))
    table.loc[far[:1], "label"] = "S"  # relabelled S by the reader: an aberrant atrial beat
    assert not any("dominant beat" in n for n in trust_notes(table))
