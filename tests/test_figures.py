"""Figure builders on real records: ECG-paper grid, beat markers and flags, decimation that keeps R peaks."""

from __future__ import annotations

import numpy as np
import pytest

from ecgapp import extract_beats, load_record
from ecgapp.beats import RR_FEATURES
from ecgapp.explain import BeatExplanation
from ecgapp.figures import (CAL_LEAD_S, CLASS_COLOURS, REGION_SHADES, DISAGREE_COLOUR, GAINS_MM_MV, LETTER_BAND_MV,
                            PAPER_SPEED_MM_S, PLOT_HEIGHT_PX, PLOT_WIDTH_PX, ecg_figure, explanation_figure, minmax_decimate,
                            overview_figure, probability_figure, strip_range_mv, strip_time, OVERVIEW_BINS)
from ecgapp.inference import beats_table
from ecgapp.processing import MODEL_FS, clean


@pytest.fixture(scope="module")
def rec119():
    rec = load_record("119")
    beats = extract_beats(rec)
    probs = np.zeros((len(beats), 5), np.float32)
    probs[np.arange(len(beats)), np.clip(beats.label, 0, 4)] = 0.9  # "predictions" = the reference ...
    probs[:5] = [0.1, 0.1, 0.7, 0.05, 0.05]  # ... except the first five beats, called V
    table = beats_table(beats, probs)
    return clean(rec.lead_signal(), rec.fs), table


def trace(fig, name):
    return next(t for t in fig.data if t.name == name)


def test_ecg_figure_has_the_standard_paper_grid_and_units(rec119):
    signal, table = rec119
    fig = ecg_figure(signal, MODEL_FS, table, 20.0, 30.0)
    x, y = fig.layout.xaxis, fig.layout.yaxis
    assert (x.dtick, x.minor.dtick, y.dtick, y.minor.dtick) == (0.2, 0.04, 0.5, 0.1)
    assert x.minor.showgrid and y.minor.showgrid
    assert x.ticklabelstep == 5  # a 10 s window: every 0.2 s line drawn, a time label every 1 s
    assert x.title.text == "time (s)" and y.title.text == "mV" and tuple(x.range) == (20.0 - CAL_LEAD_S, 30.0)
    pulse = trace(fig, "1 mV")  # the calibration pulse: 1 mV high, 0.2 s wide, before the trace
    ys = [v for v in pulse.y if v is not None]
    assert max(ys) - min(ys) == pytest.approx(1.0) and max(v for v in pulse.x if v is not None) < 20.0
    line = trace(fig, "filtered ECG")
    assert len(line.x) <= 10 * MODEL_FS + 2  # only the window is sent to the browser
    np.testing.assert_allclose(line.x[0], 20.0, atol=1 / MODEL_FS)


def test_every_beat_in_the_window_is_marked_at_its_r_peak_with_its_class(rec119):
    signal, table = rec119
    fig = ecg_figure(signal, MODEL_FS, table, 0.0, 10.0)
    in_window = table[table["time_s"] < 10.0]
    marked = []
    hi = fig.layout.meta["hi"]
    for cls in "NSVFQ":
        t = trace(fig, cls)
        assert t.marker.color == CLASS_COLOURS[cls] and set(t.text or ()) <= {cls}
        marked += list(zip(t.x, [cls] * len(t.x)))
        assert all(yv == pytest.approx(hi + LETTER_BAND_MV / 2) for yv in t.y)  # letters in a row above the trace
        assert all(yv > signal[int(round(xv * MODEL_FS))] for xv, yv in zip(t.x, t.y))
    assert sorted(marked) == sorted(zip(in_window["time_s"], in_window["label"]))
    dots = trace(fig, "R peaks")
    for xv, yv in zip(dots.x, dots.y):  # and a dot on the signal at each R peak
        assert yv == pytest.approx(signal[int(round(xv * MODEL_FS))], abs=1e-5)
    flagged = trace(fig, "differs from reference")
    assert flagged.marker.color == DISAGREE_COLOUR
    wrong = in_window[in_window["label"] != in_window["reference"]]
    assert sorted(flagged.x) == sorted(wrong["time_s"]) and len(wrong) >= 4  # the 5 fake V calls in 10 s
    assert [t.strip() for t in flagged.text] == wrong.sort_values("time_s")["reference"].tolist()  # ref letter beside
    assert "reference" in flagged.hovertemplate and "label %{customdata[1]} (%{customdata[4]}" in flagged.hovertemplate
    assert {row[4] for row in flagged.customdata} == {"model"}  # who gave the label: no review here


def test_beats_the_on_time_v_gate_labelled_n_are_marked_on_the_strip(rec119):
    """A red disc behind the N of a beat the network read as V that came on time; none without such beats."""
    from ecgapp.figures import ON_TIME_V_NAME

    signal, table = rec119
    assert ON_TIME_V_NAME not in [t.name for t in ecg_figure(signal, MODEL_FS, table, 0.0, 10.0).data]
    marked = table.assign(on_time_v=False)
    n_beats = marked.index[(marked["label"] == "N") & (marked["time_s"] < 10.0)][:2]
    marked.loc[n_beats, "on_time_v"] = True
    marked.loc[marked.index[(marked["label"] == "V")][:1], "on_time_v"] = True  # a V (a reader's?) gets no mark
    fig = ecg_figure(signal, MODEL_FS, marked, 0.0, 10.0)
    t = trace(fig, ON_TIME_V_NAME)
    assert sorted(t.x) == sorted(marked.loc[n_beats, "time_s"])
    assert t.marker.color == CLASS_COLOURS["V"] and "the network read V" in t.hovertemplate


def test_raw_overlay_and_selected_beat(rec119):
    signal, table = rec119
    raw = signal + 1.0
    fig = ecg_figure(signal, MODEL_FS, table, 0.0, 5.0, raw=raw, selected=3)
    assert trace(fig, "raw").y[0] == pytest.approx(signal[0] + 1.0)
    (band,) = fig.layout.shapes
    assert band.x0 < table.loc[3, "time_s"] < band.x1


def test_minmax_decimation_keeps_every_r_peak_visible():
    rec = load_record("208")  # many ventricular beats of both polarities
    beats = extract_beats(rec)
    x = clean(rec.lead_signal(), rec.fs)
    idx, values = minmax_decimate(x, 1500)
    assert len(values) <= 3000 and np.all(np.diff(idx) >= 0)
    r = np.round(beats.sample * MODEL_FS / rec.fs).astype(int)
    # the decimated trace reaches every R peak's amplitude within its bucket
    size = int(np.ceil(x.size / 1500))
    bucket_of_r = r // size
    hi = values.reshape(-1, 2).max(axis=1)
    lo = values.reshape(-1, 2).min(axis=1)
    assert np.all(hi[bucket_of_r] >= x[r]) and np.all(lo[bucket_of_r] <= x[r])
    # plain striding to as many points (what decimation must not be) loses the height of many R peaks
    step = size // 2
    strided = np.arange(0, x.size, step)
    starts = np.searchsorted(strided, np.arange(0, x.size, size))
    strided_max = np.maximum.reduceat(np.nan_to_num(x[strided], nan=-np.inf), starts)
    upright = x[r] > 0.5
    assert np.mean(strided_max[bucket_of_r[upright]] < x[r][upright] - 0.2) > 0.3


def test_minmax_decimation_marks_masked_stretches_as_gaps():
    x = np.sin(np.arange(100_000) / 50.0).astype(np.float32)
    x[10_000:20_000] = np.nan
    idx, values = minmax_decimate(x, 100)
    gap = (idx >= 10_000) & (idx < 20_000)
    assert np.isnan(values[gap]).sum() >= 2 * 9 and np.isfinite(values[~gap]).all()
    short_idx, short = minmax_decimate(x[:150], 100)  # short enough: returned as is
    assert short.size == 150


def test_overview_counts_each_class_per_time_bin_and_shades_the_window(rec119):
    signal, table = rec119
    fig = overview_figure(signal, MODEL_FS, table, (60.0, 70.0), unreadable=[(100.0, 110.0)])
    assert len(fig.data[0].x) <= 3000
    v_times = table.loc[table["label"] == "V", "time_s"].to_numpy()
    v = next(t for t in fig.data if t.name.startswith("V "))
    assert v.name == f"V ({v_times.size:,})" and v.x[2] is None and v.y[2] is None
    bars = np.asarray(v.x[0::3], dtype=float)  # each bar: (mid, base), (mid, height), gap (None)
    counts = np.array([int(t.split()[0]) for t in v.text[0::3]])
    edges = np.linspace(0, signal.size / MODEL_FS, OVERVIEW_BINS + 1)
    expected, _ = np.histogram(v_times, bins=edges)
    assert counts.sum() == v_times.size and np.array_equal(counts, expected[expected > 0])
    np.testing.assert_allclose(bars, ((edges[:-1] + edges[1:]) / 2)[expected > 0])
    heights = np.asarray(v.y[1::3], dtype=float)
    assert heights[counts.argmax()] == heights.max() > heights[counts.argmin()]  # more beats, taller bar
    assert bars.size < OVERVIEW_BINS  # 119's 444 PVCs: a few hundred bars at most, never a solid band of ticks
    shades = [(sh.x0, sh.x1) for sh in fig.layout.shapes]
    assert (100.0, 110.0) in shades and (60.0, 70.0) in shades


def _explanation(method="Integrated Gradients"):
    t = (np.arange(256) - 90) / MODEL_FS
    attr = np.exp(-((t / 0.03) ** 2))
    return BeatExplanation(method=method, target="V", probabilities=dict(zip("NSVFQ", [0.1, 0.0, 0.9, 0.0, 0.0])),
                           time_s=t, wave=np.sin(t * 20), wave_attribution=attr, rr=np.ones(len(RR_FEATURES)),
                           rr_attribution=np.linspace(-1, 1, len(RR_FEATURES)))


def test_explanation_and_probability_figures():
    e = _explanation()
    fig = explanation_figure(e, wave_mv=np.sin(e.time_s * 20) * 2)
    heat = fig.data[0]
    np.testing.assert_allclose(heat.marker.color, e.wave_attribution)
    assert heat.marker.cmin == -heat.marker.cmax  # signed methods: a diverging scale centred on 0
    regions = sorted((s.x0, s.x1) for s in fig.layout.shapes)
    assert len(regions) == len(e.regions) and regions[0][0] == e.time_s[0] and regions[0][1] == regions[1][0]
    assert {a.text for a in fig.layout.annotations} >= {"QRS", "ST-T"} and {a.text for a in fig.layout.annotations} & {"P", "pre-QRS"}
    assert all(s.fillcolor in REGION_SHADES for s in fig.layout.shapes)  # neutral: colour means evidence only
    band = fig.data[2]
    np.testing.assert_allclose(band.marker.color, e.wave_attribution)  # the colour band under the beat
    assert band.base < min(fig.data[1].y)
    bars = fig.data[3]
    assert len(bars.y) == len(RR_FEATURES) and list(bars.x) == list(e.rr_attribution)
    sal = explanation_figure(_explanation("Saliency"))
    assert sal.data[0].marker.cmin == 0
    p = probability_figure(e.probabilities)
    assert list(p.data[0].y) == list("NSVFQ") and p.data[0].x[2] == 0.9


def test_empty_table_draws_without_markers(rec119):
    signal, table = rec119
    fig = ecg_figure(signal, MODEL_FS, table.iloc[:0], 0.0, 5.0)
    assert all(len(t.x) == 0 for t in fig.data if t.name in "NSVFQ")


def test_time_labels_thin_out_as_the_window_grows():
    from ecgapp.figures import label_step

    assert [label_step(w) for w in (0.7, 5, 10, 20, 30, 60)] == [1, 5, 5, 10, 25, 25]


@pytest.mark.parametrize("width", [5, 10, 20, 30, 60])
@pytest.mark.parametrize("gain", GAINS_MM_MV)
def test_strip_boxes_are_square_at_every_width_and_gain(rec119, width, gain):
    """25 mm/s and ``gain`` mm/mV with 1 mm the same number of pixels on both axes (from the figure's layout:
    y is tied to x by scaleanchor/scaleratio, and the height is computed for the plot width); one amplitude range
    for the whole lead; a readable grid (no minor lines closer than 3 px)."""
    signal, table = rec119
    lead_range = strip_range_mv(signal)
    fig = ecg_figure(signal, MODEL_FS, table, 100.0, 100.0 + width, gain_mm_mv=gain, range_mv=lead_range)
    x, y, lay = fig.layout.xaxis, fig.layout.yaxis, fig.layout
    assert y.scaleanchor == "x" and y.scaleratio == pytest.approx(gain / PAPER_SPEED_MM_S)
    px_x = PLOT_WIDTH_PX / ((x.range[1] - x.range[0]) * PAPER_SPEED_MM_S)
    px_y = (lay.height - lay.margin.t - lay.margin.b - 30) / ((y.range[1] - y.range[0]) * gain)
    plot_h = lay.height - lay.margin.t - lay.margin.b - 30
    assert px_y == pytest.approx(px_x, rel=0.02) or plot_h in PLOT_HEIGHT_PX  # at a limit Plotly narrows the plot
    assert (x.range[1] - x.range[0]) <= 10 + CAL_LEAD_S + 1e-9  # wider windows are drawn in rows of 10 s
    assert fig.layout.meta["rows"] == max(1, int(np.ceil(width / 10)))
    assert (fig.layout.meta["lo"], fig.layout.meta["hi"]) == lead_range
    assert not x.minor.showgrid or px_x >= 3


def test_a_wide_window_is_drawn_in_rows_and_clicks_map_back_to_time(rec119):
    signal, table = rec119
    fig = ecg_figure(signal, MODEL_FS, table, 0.0, 30.0, range_mv=strip_range_mv(signal))
    geo = fig.layout.meta
    assert geo["rows"] == 3
    dots = trace(fig, "R peaks")
    times = [row[5] for row in dots.customdata]
    assert sorted(times) == sorted(table[table["time_s"] < 30]["time_s"])  # every beat once
    for xv, yv, t in zip(dots.x, dots.y, times):
        assert strip_time(geo, xv, yv) == pytest.approx(t)  # a click on a dot maps back to its beat's time
        assert 0.0 <= xv < 10.0


@pytest.mark.parametrize("width", [10.0, 30.0])
def test_hovering_or_clicking_the_trace_anywhere_picks_the_nearest_beat(rec119, width):
    """Plotly reports no clicks on a bare line: invisible points along the trace carry the nearest beat."""
    signal, table = rec119
    fig = ecg_figure(signal, MODEL_FS, table, 100.0, 100.0 + width)
    pick = trace(fig, "pick")
    data = np.asarray(pick.customdata, dtype=object)
    x = np.asarray(pick.x, dtype=float)
    inside = table[(table["time_s"] >= 100.0) & (table["time_s"] < 100.0 + width)]
    points = np.flatnonzero(np.isfinite(x))
    assert points.size >= width / 0.1  # one every 80 ms
    for i in points[:: max(1, points.size // 40)]:
        t = float(data[i][6])
        nearest = inside.index[np.argmin(np.abs(inside["time_s"].to_numpy() - t))] + 1
        assert int(data[i][0]) == nearest and data[i][1] == table.loc[nearest - 1, "label"]
    assert pick.marker.opacity == 0 and trace(fig, "filtered ECG").hoverinfo == "skip"


def test_the_overview_takes_a_click_anywhere(rec119):
    signal, table = rec119
    fig = overview_figure(signal, MODEL_FS, table, (60.0, 70.0))
    picks = trace(fig, "time")
    assert len(picks.x) == OVERVIEW_BINS and picks.marker.opacity == 0 and fig.layout.hovermode == "x"
