"""Short rhythm strips (2, 3, 5, 10 s: the ECG a clinician most often has at hand) work end to end: reader,
detection, beats, model, summary, figures, explanations and downloads, through the app's own path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgapp.aami import is_beat
from ecgapp.analysis import analyse
from ecgapp.explain import explain_beat, reading
from ecgapp.exports import beats_csv_bytes, wfdb_annotation_bytes
from ecgapp.figures import ecg_figure, explanation_figure, overview_figure, probability_figure
from ecgapp.mitdb import load_record
from ecgapp.model import load_model
from ecgapp.uploads import load_upload
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model():
    return load_model(ROOT / "weights" / "hybrid", device="cpu")[0]


@pytest.mark.parametrize("seconds", [2, 3, 5, 10])
def test_short_strip_end_to_end(model, seconds):
    rec = load_record("119")  # sinus rhythm with ventricular bigeminy/trigeminy
    n = seconds * 360
    x = rec.lead_signal("MLII")[:n]
    csv = "MLII (mV)\n" + "\n".join(f"{v:.4f}" for v in x)
    record = load_upload([("strip.csv", csv.encode())], fs=360)
    a = analyse(model, record, source="detected")
    ref = rec.annotations
    expected = int((is_beat(ref.symbol) & (ref.sample < n)).sum())
    assert abs(len(a.table) - expected) <= 1 and len(a.table) >= 2
    assert a.table["label"].isin(list("NSVFQ")).all() and np.isfinite(a.table[["p_N", "p_V"]].to_numpy()).all()
    assert a.summary["beats"] == len(a.table) and not a.summary["looks_like_noise"]
    assert len(ecg_figure(a.signal, 360.0, a.table, 0.0, float(seconds)).data) > 0
    assert len(overview_figure(a.signal, 360.0, a.table, (0.0, float(seconds))).data) > 0
    expl = explain_beat(model, a.waves, a.rr, len(a.table) - 1)
    assert np.isfinite(expl.wave_attribution).all() and reading(expl)
    assert len(explanation_figure(expl, a.beats.windows[-1]).data) > 0
    assert len(probability_figure(expl.probabilities).data) > 0
    assert beats_csv_bytes(a.table).count(b"\n") == len(a.table) + 1
    name, ann = wfdb_annotation_bytes(a.table, "strip", 360.0)
    assert name == "strip.pred" and len(ann) > 0
