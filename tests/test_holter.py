"""The Holter-style rhythm report: definitions on made-up label sequences, and agreement with the rhythm
annotations of MIT-BIH records whose annotators marked bigeminy, trigeminy, ventricular tachycardia and
supraventricular tachyarrhythmia (the report is computed from the reference beat labels there)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecgapp.beats import extract_beats
from ecgapp.holter import rhythm_report, tachogram
from ecgapp.inference import beats_table
from ecgapp.mitdb import beat_rhythms, load_record


def table_of(labels: str, rr: float = 0.8, pauses: dict[int, float] | None = None) -> pd.DataFrame:
    gaps = np.full(len(labels), rr)
    for i, g in (pauses or {}).items():
        gaps[i] = g
    return pd.DataFrame({"time_s": np.cumsum(gaps), "label": list(labels)})


def test_definitions_on_made_up_sequences():
    #        couplet  triplet   run of 5       SV run   bigeminy (4 cycles)  trigeminy (3 cycles)
    seq = "NNVVNNNNVVVNNNNVVVVVNNNNSSSNNNNNVNVNVNVNNNNNVNNVNNVNNNN"
    rep = rhythm_report(table_of(seq, pauses={50: 2.5}))
    c = rep["counts"]
    assert (c["ventricular couplet"], c["ventricular triplet"], c["ventricular run"]) == (1, 1, 1)
    assert c["supraventricular run"] == 1 and c["ventricular bigeminy"] == 1 and c["ventricular trigeminy"] == 1
    assert c["pause"] == 1 and rep["longest_pause"]["seconds"] == pytest.approx(2.5)
    assert rep["longest_v_run"]["beats"] == 5 and rep["longest_v_run"]["rate_bpm"] == pytest.approx(75)
    assert c["ventricular tachycardia"] == 0  # 75 bpm: idioventricular, not VT
    fast = rhythm_report(table_of("NNNVVVVNNN", rr=0.4))
    assert fast["counts"]["ventricular tachycardia"] == 1
    events = rep["events"]
    assert list(events["start_s"]) == sorted(events["start_s"])
    big = events[events["event"] == "ventricular bigeminy"].iloc[0]
    assert seq[int(big.first_beat) - 1: int(big.first_beat) - 1 + int(big.beats)] == "NVNVNVNV"
    # an interval over missing data is not a pause
    broken = np.zeros(len(seq) - 1, bool)
    broken[49] = True
    assert rhythm_report(table_of(seq, pauses={50: 2.5}), broken)["counts"]["pause"] == 0
    t, hr = tachogram(table_of(seq, pauses={50: 2.5}), broken)
    assert np.isnan(hr[49]) and hr[0] == pytest.approx(75)
    assert rhythm_report(table_of(""))["longest_pause"] is None


def covered(name: str, kinds: tuple[str, ...], code: str) -> float:
    """Share of the beats the annotators marked with rhythm ``code`` that the report's ``kinds`` episodes hold."""
    beats = extract_beats(load_record(name))
    table = beats_table(beats, np.eye(5, dtype=np.float32)[np.clip(beats.label, 0, 4)])
    events = rhythm_report(table)["events"]
    inside = np.zeros(len(table), bool)
    for _, e in events[events["event"].isin(kinds)].iterrows():
        inside[int(e.first_beat) - 1: int(e.first_beat) - 1 + int(e.beats)] = True
    marked = beat_rhythms(name) == code
    assert marked.sum() > 20
    return float(inside[marked].mean())


@pytest.mark.parametrize("name, kinds, code", [
    ("119", ("ventricular bigeminy",), "(B"),
    ("119", ("ventricular trigeminy",), "(T"),
    ("223", ("ventricular triplet", "ventricular run"), "(VT"),
    ("209", ("supraventricular run",), "(SVTA"),
])
def test_report_finds_what_the_annotators_marked(name, kinds, code):
    assert covered(name, kinds, code) >= 0.9
