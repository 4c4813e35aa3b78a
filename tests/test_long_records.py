"""Long records (issues 11 and 12): one cleaning pass, bounded memory, progress reported; the same results as
the short-record path. The 24-hour figures themselves are measured by benchmarks/bench_holter.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ecgapp import analysis, beats as beats_module
from ecgapp.__main__ import main
from ecgapp.analysis import analyse
from ecgapp.beats import cut_windows, extract_beats
from ecgapp.inference import classify_beats
from ecgapp.mitdb import load_record
from ecgapp.model import load_model
from ecgapp.physionet import SHARED_DATA_DIR

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model():
    return load_model(ROOT / "weights" / "hybrid", device="cpu")[0]


def test_analyse_reports_progress_in_order_and_filters_once(model, monkeypatch):
    calls = []
    real_clean = analysis.clean
    monkeypatch.setattr(analysis, "clean", lambda *a: calls.append("clean") or real_clean(*a))
    monkeypatch.setattr(beats_module, "clean", lambda *a: calls.append("clean again") or real_clean(*a))
    seen = []
    a = analyse(model, load_record("208"), source="detected", progress=lambda done, what: seen.append((done, what)))
    assert calls == ["clean"]  # the beats are cut from the signal analyse cleaned, not filtered a second time
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[0] == 0.0 and seen[-1] == (1.0, "done")
    steps = list(dict.fromkeys(w for _, w in seen))
    assert steps == ["finding beats", "filtering", "cutting beats", "classifying beats", "checking signal quality", "summarising", "done"]
    # the same table as the path that cleans inside extract_beats (training's and evaluation's)
    table = classify_beats(model, extract_beats(load_record("208"), r_peaks=a.beats.sample))[2]
    np.testing.assert_array_equal(table["label"].to_numpy(), a.table["label"].to_numpy())
    assert a.nbytes > a.signal.nbytes + a.waves.nbytes


def test_cut_windows_edges_and_values():
    x = np.arange(1000, dtype=np.float32)
    w = cut_windows(x, np.array([0, 500, 999, 1000]), before=3, after=4)
    np.testing.assert_array_equal(w[1], np.arange(497, 504))
    np.testing.assert_array_equal(w[0], [0, 0, 0, 0, 1, 2, 3])  # the first sample repeats before the start
    np.testing.assert_array_equal(w[2], [996, 997, 998, 999, 999, 999, 999])
    assert w.dtype == np.float32 and w.shape == (4, 7)


def test_extract_beats_with_a_cleaned_lead_given_is_the_same(model):
    rec = load_record("119")
    from ecgapp.processing import clean

    a = extract_beats(rec)
    b = extract_beats(rec, cleaned=clean(rec.signal[:, rec.lead_index(None)], rec.fs))
    np.testing.assert_array_equal(a.windows, b.windows)


def test_cli_shows_a_progress_bar_on_a_terminal_only(tmp_path, capsys, monkeypatch):
    record = SHARED_DATA_DIR / "mitdb" / "100"
    weights = str(ROOT / "weights" / "hybrid")
    assert main(["classify", str(record), "--out", str(tmp_path / "a.csv"), "--weights", weights]) == 0
    assert "%" not in capsys.readouterr().err  # not a terminal (a log, a pipe): no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["classify", str(record), "--beats", "detect", "--out", str(tmp_path / "b.csv"),
                 "--weights", weights]) == 0
    err = capsys.readouterr().err
    assert "finding beats" in err and "classifying beats" in err and "100%" in err


def test_a_large_csv_of_zeros_is_read_compactly_then_refused_as_a_flat_lead(model):
    from ecgapp.errors import InputError
    from ecgapp.uploads import load_upload

    data = b"0\n" * 3_000_000  # 6 MB: the large-file path (parsed to float32 from the file, no string per cell)
    rec = load_upload([("zeros.csv", data)], fs=360)
    assert rec.signal.dtype == np.float32 and rec.n_samples == 3_000_000
    with pytest.raises(InputError, match=r"zeros lead 1: the lead is flat"):
        analyse(model, rec, source="detected")
