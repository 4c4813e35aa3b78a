"""Plotly figures of the app, built by plain functions (arrays and tables in, ``go.Figure`` out).

- ``ecg_figure``: a window of the filtered ECG on calibrated ECG paper (25 mm/s, 5/10/20 mm/mV, square
  boxes, a 1 mV pulse, rows of 10 s for wider windows), beat letters in a row above the trace, disagreements
  with the reference ringed with the reference letter beside. Only the window's samples are sent to the browser.
- ``overview_figure``: the whole record as a min/max-decimated strip (every R peak's amplitude survives
  decimation), a row per non-N class counting its beats per time bin, unreadable stretches and the current
  window shaded; ``tachogram_figure``: heart rate over
  the whole record with runs and pauses marked.
- ``explanation_figure`` and ``probability_figure``: one beat with its attribution as a heat-coloured
  line over neutral bands of the beat's own regions, the RR-context attribution, and the class probabilities.
- ``template_figure``: one beat template's median beat on calibrated paper (the review gallery).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .aami import AAMI_CLASSES
from .beats import RR_FEATURES, WINDOW_AFTER, WINDOW_BEFORE
from .explain import BeatExplanation
from .processing import MODEL_FS
from .templates import counted

CLASS_COLOURS = {"N": "#1a7f37", "S": "#1f5fbf", "V": "#c21f1f", "F": "#8a3ffc", "Q": "#6e6e6e"}
PAPER = {"background": "#fffafa", "major": "#f0a8a8", "minor": "#fadede", "trace": "#1c1c1c"}
GRID_MAJOR_S, GRID_MINOR_S = 0.2, 0.04  # s (5 mm and 1 mm at 25 mm/s)
GRID_MAJOR_MV, GRID_MINOR_MV = 0.5, 0.1  # mV (5 mm and 1 mm at 10 mm/mV)
DISAGREE_COLOUR = "#ff8c00"
UNREADABLE_COLOUR = "#5a5a5a"  # stretches the quality check found unreadable
TRACE_PICK_S = 0.08  # s between the strip's invisible pick points (hover / click the trace: the nearest beat)
OVERVIEW_BINS = 300  # time bins of the overview's class rows (6 s each on a 30-minute record)
REGION_SHADES = ("#e9e9e9", "#d2d2d2")  # neutral grey bands, alternating: the colours are kept for the evidence
REGION_SHORT = {"P wave": "P", "pre-QRS": "pre-QRS", "QRS complex": "QRS", "ST-T segment": "ST-T"}
RR_LABELS = {"pre_rr_s": "pre-RR (s)", "post_rr_s": "post-RR (s)", "local_rr_s": "local RR (s)",
             "pre_rr_norm": "pre-RR / median", "post_rr_norm": "post-RR / median", "local_rr_norm": "local / median",
             "pre_rr_local": "pre-RR / local", "post_rr_local": "post-RR / local",
             "pre_rr_prev": "pre-RR / previous RR", "rr_irregularity": "RR irregularity"}


def label_step(width_s: float, max_labels: int = 12) -> int:
    """Label every k-th major grid line (0.2 s) so that a window of ``width_s`` seconds gets at most
    ``max_labels`` time labels, at 0.2, 1, 2, 5, 10 ... s spacing."""
    for seconds in (0.2, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600):
        if width_s / seconds <= max_labels:
            return max(1, int(round(seconds / GRID_MAJOR_S)))
    return int(round(600 / GRID_MAJOR_S))


def ecg_paper(fig: go.Figure, row: int | None = None, col: int | None = None, width_s: float = 1.0) -> go.Figure:
    """Give a figure's axes the ECG-paper grid: seconds on x (0.2 s / 0.04 s), mV on y (0.5 mV / 0.1 mV).

    Every 0.2 s line is drawn; time labels are thinned for a window of ``width_s`` seconds (``label_step``).
    """
    where = {} if row is None else {"row": row, "col": col}
    fig.update_xaxes(dtick=GRID_MAJOR_S, gridcolor=PAPER["major"], showgrid=True, zeroline=False,
                     ticklabelstep=label_step(width_s),
                     minor=dict(dtick=GRID_MINOR_S, gridcolor=PAPER["minor"], showgrid=True), **where)
    fig.update_yaxes(dtick=GRID_MAJOR_MV, gridcolor=PAPER["major"], showgrid=True, zeroline=False,
                     minor=dict(dtick=GRID_MINOR_MV, gridcolor=PAPER["minor"], showgrid=True), **where)
    fig.update_layout(plot_bgcolor=PAPER["background"])
    return fig


def _window(n: int, fs: float, start_s: float, end_s: float) -> slice:
    return slice(max(0, int(np.floor(start_s * fs))), min(n, int(np.ceil(end_s * fs)) + 1))


def beats_in_window(table: pd.DataFrame, start_s: float, end_s: float) -> pd.DataFrame:
    """Rows of the beats table whose R peak lies in [start_s, end_s)."""
    t = table["time_s"]
    return table[(t >= start_s) & (t < end_s)]


PAPER_SPEED_MM_S = 25.0  # standard ECG paper speed
GAINS_MM_MV = (5.0, 10.0, 20.0)  # selectable gains; 10 mm/mV is the standard
ROW_S = 10.0  # a window wider than this is drawn as rows of ROW_S seconds, one under the other
LETTER_BAND_MV = 0.7  # above each row's amplitude range: the annotation row for the beat letters
CAL_LEAD_S = 0.45  # before each row: room for the 1 mV calibration pulse (0.2 s wide)
PLOT_WIDTH_PX = 1150  # plot width the figure height is computed for (the app's wide layout)
PLOT_HEIGHT_PX = (160, 2400)  # plot height limits; beyond them Plotly narrows the plot to keep the boxes square


def strip_range_mv(signal: np.ndarray) -> tuple[float, float]:
    """A fixed amplitude range (mV, on 0.5 mV lines) for a whole lead: the 0.1st to 99.9th percentile of its
    finite samples, widened to at least 2 mV, so the strip's scale does not change from one window to the next."""
    x = np.asarray(signal)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return -1.0, 1.0
    if x.size > 2_000_000:  # a percentile of a strided sample is enough (a 24-hour lead has 31 M samples)
        x = x[:: x.size // 1_000_000]
    lo, hi = range_on_grid(*np.percentile(x, [0.1, 99.9]))
    while hi - lo < 2.0:
        lo, hi = lo - GRID_MAJOR_MV, hi + GRID_MAJOR_MV
    return lo, hi


def strip_geometry(start_s: float, end_s: float, range_mv: tuple[float, float]) -> dict:
    """Where each row of a strip sits: ``start``, ``row_s`` (seconds per row), ``rows``, ``band`` (mV from one
    row's baseline to the next), ``top`` (the first row's upper edge, mV) and ``lo``/``hi`` (the amplitude range).
    Row k draws time t at x = t - k * row_s and amplitude v at y = v - k * band."""
    width = max(end_s - start_s, 1e-6)
    row_s = min(width, ROW_S)
    rows = max(1, int(np.ceil(width / row_s - 1e-9)))
    lo, hi = range_mv
    band = (hi - lo) + LETTER_BAND_MV
    return {"start": float(start_s), "end": float(end_s), "row_s": float(row_s), "rows": rows, "band": float(band),
            "top": float(hi + LETTER_BAND_MV), "lo": float(lo), "hi": float(hi)}


def strip_time(geometry: dict, x: float, y: float) -> float:
    """The record time (s) of a point (x, y) of a strip drawn with ``geometry`` (a click on a row)."""
    row = int(np.clip(np.floor((geometry["top"] - y) / geometry["band"]), 0, geometry["rows"] - 1))
    return float(x + row * geometry["row_s"])


ON_TIME_V_NAME = "read as V, on time: N by rule"  # the strip's mark on beats the on-time V gate labelled N


def ecg_figure(signal: np.ndarray, fs: float, table: pd.DataFrame, start_s: float, end_s: float,
               raw: np.ndarray | None = None, selected: int | None = None, title: str = "",
               gain_mm_mv: float = 10.0, range_mv: tuple[float, float] | None = None,
               unreadable: list[tuple[float, float]] | None = None) -> go.Figure:
    """The filtered ECG between ``start_s`` and ``end_s`` on calibrated ECG paper, every beat labelled.

    25 mm/s and ``gain_mm_mv`` (5, 10 or 20) mm/mV with square boxes: the y axis is tied to the x axis
    (Plotly ``scaleanchor``), so 1 mm is the same number of pixels both ways at any window width and gain. The
    amplitude range ``range_mv`` is fixed per lead (``strip_range_mv``; from the window when not given); a
    window wider than ROW_S seconds is drawn as rows of ROW_S seconds under each other (like a rhythm strip),
    each with a 1 mV calibration pulse before it. Beat letters sit in an annotation row above the trace, with
    the reference letter beside them, ringed in orange, where the two differ; a red disc behind an N the on-time
    V gate gave (the network read V, the beat came on time: ``on_time_v``); each beat also has a dot on its R
    peak. ``signal``: filtered lead (mV) at ``fs`` Hz; ``raw``: the unfiltered lead (overlay, optional);
    ``table``: beats (``time_s``, ``label``, ``confidence``, ``reference`` [, ``label_by``]; index = beat
    number - 1); ``selected``: a beat index to highlight; ``unreadable``: [(start_s, end_s)] stretches the
    quality check found unreadable (``quality.StretchQuality.spans``), shaded grey and named.
    ``fig.layout.meta`` holds ``strip_geometry``.
    """
    win = _window(len(signal), fs, start_s, end_s)
    t = np.arange(win.start, win.stop) / fs
    y = signal[win]
    if range_mv is None:
        range_mv = strip_range_mv(y)
    geo = strip_geometry(start_s, end_s, range_mv)
    lo, hi, band, row_s = geo["lo"], geo["hi"], geo["band"], geo["row_s"]
    rows = geo["rows"]
    row_of = lambda times: np.clip(np.floor((np.asarray(times) - start_s) / row_s + 1e-9), 0, rows - 1)  # noqa: E731

    def folded(times: np.ndarray, values: np.ndarray, clip: bool) -> tuple[np.ndarray, np.ndarray]:
        """Times and amplitudes drawn on their rows (NaN between rows, so lines do not join across them)."""
        r = row_of(times)
        v = np.clip(values, lo - 0.1, hi + 0.1) if clip else values
        x, yy = times - r * row_s, v - r * band
        if rows == 1:
            return x, yy
        breaks = np.flatnonzero(np.diff(r)) + 1
        return np.insert(x, breaks, np.nan), np.insert(yy, breaks, np.nan)

    fig = go.Figure()
    cal_x, cal_y = [], []
    for k in range(rows):  # a 1 mV, 0.2 s calibration pulse before every row
        x0 = start_s - CAL_LEAD_S + 0.1
        cal_x += [x0, x0 + 0.05, x0 + 0.05, x0 + 0.25, x0 + 0.25, x0 + 0.3, None]
        cal_y += [-k * band, -k * band, 1 - k * band, 1 - k * band, -k * band, -k * band, None]
    fig.add_trace(go.Scatter(x=cal_x, y=cal_y, mode="lines", name="1 mV", hoverinfo="skip", showlegend=False,
                             line=dict(color=PAPER["trace"], width=1.3)))
    if raw is not None:
        rx, ry = folded(t, raw[win], rows > 1)
        fig.add_trace(go.Scatter(x=rx, y=ry, mode="lines", name="raw", hoverinfo="skip",
                                 line=dict(color="#7f7f7f", width=1), opacity=0.55))
    lx, ly = folded(t, y, rows > 1)
    fig.add_trace(go.Scatter(x=lx, y=ly, mode="lines", name="filtered ECG", line=dict(color=PAPER["trace"], width=1.3),
                             hoverinfo="skip"))  # hover and clicks: the invisible points below
    beats = beats_in_window(table, start_s, end_s)
    times = beats["time_s"].to_numpy()
    r = row_of(times)
    bx = times - r * row_s
    idx = np.clip(np.round(times * fs).astype(np.int64), 0, len(signal) - 1)
    amp = np.nan_to_num(signal[idx]) if len(idx) else np.zeros(0)
    amp = np.clip(amp, lo - 0.1, hi + 0.1) if rows > 1 else amp
    letter_y = hi + LETTER_BAND_MV / 2 - r * band
    ref = beats["reference"].fillna("").astype(str) if "reference" in beats else pd.Series("", index=beats.index)
    by = (beats["label_by"].map({"reader": "reader's label", "adapted": "adapted model", "model": "model"})
          if "label_by" in beats else pd.Series("model", index=beats.index))
    custom = np.stack([beats.index.to_numpy() + 1, beats["label"], 100 * beats["confidence"],
                       ref.replace("", "-"), by, times], axis=1) if len(beats) else np.zeros((0, 6))
    hover = ("beat %{customdata[0]}<br>%{customdata[5]:.3f} s<br>label %{customdata[1]} (%{customdata[4]}, "
             "confidence %{customdata[2]:.0f}%)<br>reference %{customdata[3]}<extra></extra>")
    labels = beats["label"].to_numpy()
    if len(beats):  # invisible points along the trace every TRACE_PICK_S: hovering or clicking the trace anywhere
        # names and selects the nearest beat (Plotly reports no clicks on a line alone)
        step = max(1, int(round(TRACE_PICK_S * fs)))
        pt = t[::step]
        nearest = np.clip(np.searchsorted(times, pt), 1, len(times)) - 1
        nearest += (np.abs(times[np.minimum(nearest + 1, len(times) - 1)] - pt) < np.abs(times[nearest] - pt))
        px, py = folded(pt, y[::step], rows > 1)
        pick = np.concatenate([custom[nearest], np.round(pt, 3)[:, None], np.round(y[::step], 2)[:, None]], axis=1)
        if rows > 1:  # keep the row breaks of ``folded`` (NaN points carry no data)
            breaks = np.flatnonzero(np.diff(row_of(pt))) + 1
            pick = np.insert(pick, breaks, pick[np.maximum(breaks - 1, 0)], axis=0)
        fig.add_trace(go.Scatter(
            x=px, y=py, mode="markers", name="pick", showlegend=False, customdata=pick,
            marker=dict(size=8, opacity=0), hovertemplate="%{customdata[6]:.3f} s, %{customdata[7]:.2f} mV<br>nearest: beat "
            "%{customdata[0]} (%{customdata[1]}); click to explain it<extra></extra>"))
    fig.add_trace(go.Scatter(  # a dot on every R peak (clicking it selects the beat too)
        x=bx, y=amp - r * band, mode="markers", name="R peaks", showlegend=False, customdata=custom,
        hovertemplate=hover, marker=dict(size=6, color=[CLASS_COLOURS.get(c, "#333") for c in labels])))
    for cls in AAMI_CLASSES:
        m = labels == cls
        fig.add_trace(go.Scatter(
            x=bx[m], y=letter_y[m], mode="markers+text", name=cls, text=[cls] * int(m.sum()),
            textposition="middle center", textfont=dict(color=CLASS_COLOURS[cls], size=14),
            marker=dict(color=CLASS_COLOURS[cls], size=22, opacity=0.12), customdata=custom[m],
            hovertemplate=hover, legendgroup=cls, showlegend=bool(m.any()),
        ))
    unreadable_beats = (beats["unreadable"].to_numpy(bool) if "unreadable" in beats
                        else np.zeros(len(beats), bool))  # Q for noise is no disagreement with the reference
    wrong = ((ref != "") & (ref != beats["label"])).to_numpy() & ~unreadable_beats
    fig.add_trace(go.Scatter(
        x=bx[wrong], y=letter_y[wrong], mode="markers+text", name="differs from reference",
        text=[f"  {c}" for c in ref.to_numpy()[wrong]], textposition="middle right",
        textfont=dict(color=DISAGREE_COLOUR, size=12),
        marker=dict(symbol="circle-open", size=22, color=DISAGREE_COLOUR, line=dict(width=2.5)),
        customdata=custom[wrong], hovertemplate=hover, showlegend=bool(wrong.any()),
    ))
    moved = ((beats["on_time_v"].to_numpy(bool) & (labels == "N")) if "on_time_v" in beats
             else np.zeros(len(beats), bool))  # the network read V, the beat came on time: the rule said N
    if moved.any():
        fig.add_trace(go.Scatter(  # a V-coloured disc behind the N (the class discs are faint; this one is not)
            x=bx[moved], y=letter_y[moved], mode="markers", name=ON_TIME_V_NAME, customdata=custom[moved],
            marker=dict(symbol="circle", size=24, color=CLASS_COLOURS["V"], opacity=0.35),
            hovertemplate=hover.replace("<extra>", "<br>the network read V; on time, so the rule says N<extra>"),
        ))
    if selected is not None and selected in table.index:
        ts = float(table.loc[selected, "time_s"])
        k = float(row_of([ts])[0])
        fig.add_shape(type="rect", x0=ts - k * row_s - WINDOW_BEFORE / MODEL_FS, x1=ts - k * row_s + WINDOW_AFTER / MODEL_FS,
                      y0=lo - k * band, y1=hi + LETTER_BAND_MV - k * band, fillcolor="#4c9aff", opacity=0.15,
                      line_width=0, layer="below")
    for s0, s1 in unreadable or []:  # grey bands over unreadable stretches, split where the strip wraps
        for k in range(rows):
            a, b = max(s0, start_s + k * row_s), min(s1, start_s + (k + 1) * row_s, end_s)
            if b <= a:
                continue
            fig.add_shape(type="rect", x0=a - k * row_s, x1=b - k * row_s, y0=lo - k * band, y1=hi - k * band,
                          fillcolor=UNREADABLE_COLOUR, opacity=0.3, layer="below",
                          line=dict(color=UNREADABLE_COLOUR, width=1.5, dash="dot"))
            fig.add_annotation(x=(a + b) / 2 - k * row_s, y=lo - k * band, yanchor="bottom", showarrow=False,
                               text="unreadable: beats labelled Q", font=dict(size=11, color="#555"))
    for k in range(1, rows):  # where each later row starts
        fig.add_annotation(x=start_s - CAL_LEAD_S, y=hi + LETTER_BAND_MV - k * band, xanchor="left", yanchor="top",
                           text=f"{start_s + k * row_s:g} s", showarrow=False, font=dict(size=10, color="#555"))
    x_range = [start_s - CAL_LEAD_S, start_s + row_s]
    y_range = [lo - (rows - 1) * band, hi + LETTER_BAND_MV]
    px_per_mm = PLOT_WIDTH_PX / ((x_range[1] - x_range[0]) * PAPER_SPEED_MM_S)
    ecg_paper(fig, width_s=row_s)
    fig.update_xaxes(range=x_range, title_text="time (s)", constrain="domain",
                     minor_showgrid=px_per_mm >= 3)
    fig.update_yaxes(range=y_range, title_text="mV" if rows == 1 else "", showticklabels=rows == 1,
                     scaleanchor="x", scaleratio=gain_mm_mv / PAPER_SPEED_MM_S, constrain="domain",
                     minor_showgrid=px_per_mm >= 3)
    plot_h = px_per_mm * (y_range[1] - y_range[0]) * gain_mm_mv
    fig.update_layout(height=int(np.clip(plot_h, *PLOT_HEIGHT_PX)) + (30 if title else 10) + 40 + 30,
                      margin=dict(l=50, r=10, t=30 if title else 10, b=40), title=title or None,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), hovermode="closest", meta=geo)
    return fig


def minmax_decimate(x: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Shrink ``x`` to at most 2 * ``buckets`` points that keep its envelope.

    Each bucket of consecutive samples contributes the indices of its minimum and maximum (in time
    order), so every peak (every R wave) keeps its full height however far the record is shrunk.
    Returns (sample indices int64, values); a bucket that is all NaN gives NaN values (a gap).
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.size
    if n <= 2 * buckets:
        return np.arange(n), x.copy()
    size = int(np.ceil(n / buckets))
    m = int(np.ceil(n / size))
    padded = np.empty(m * size, np.float32)
    padded[:n] = x
    padded[n:] = x[-1]  # the last bucket is topped up with the last sample: it adds no new extreme
    blocks = padded.reshape(m, size)
    if np.isnan(x).any():
        nan = np.isnan(blocks)
        all_nan = nan.all(axis=1)
        lo = np.argmin(np.where(nan, np.inf, blocks), axis=1)
        hi = np.argmax(np.where(nan, -np.inf, blocks), axis=1)
    else:  # no gaps (most records): no masked copies of a 24-hour lead
        all_nan = np.zeros(m, bool)
        lo, hi = np.argmin(blocks, axis=1), np.argmax(blocks, axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    base = np.arange(m) * size
    idx = np.stack([base + first, base + second], axis=1).reshape(-1)
    values = padded[idx].copy()
    values[np.repeat(all_nan, 2)] = np.nan
    idx = np.minimum(idx, n - 1)
    return idx, values


def overview_figure(signal: np.ndarray, fs: float, table: pd.DataFrame, view: tuple[float, float],
                    buckets: int = 1500, height: int = 140,
                    envelope: tuple[np.ndarray, np.ndarray] | None = None,
                    unreadable: list[tuple[float, float]] | None = None) -> go.Figure:
    """The whole record, decimated to ``buckets`` min/max pairs, with the non-N beats above it, one row per
    class, and the window ``view`` = (start_s, end_s) shaded. Each class row counts its beats in
    OVERVIEW_BINS bins of time (a bar per bin, its height growing with the count; one beat still shows), so a
    record with thousands of PVCs reads as a density, not a solid band. ``envelope``:
    ``minmax_decimate(signal, buckets)`` when the caller keeps it (a 24-hour lead takes about half a second to
    decimate); ``unreadable``: stretches shaded grey (``quality.StretchQuality.spans``)."""
    idx, values = envelope if envelope is not None else minmax_decimate(signal, buckets)
    fig = go.Figure(go.Scatter(x=idx / fs, y=values, mode="lines", line=dict(color="#444", width=0.8),
                               name="record", hoverinfo="skip", showlegend=False))
    finite = values[np.isfinite(values)]
    # a robust range: one artefact of 10 mV must not flatten half an hour of 1 mV beats
    bottom, top = (float(v) for v in np.percentile(finite, [0.5, 99.5])) if finite.size else (-1.0, 1.0)
    span = max(top - bottom, 0.1)
    top = min(float(finite.max()), top + 0.6 * span) if finite.size else top  # class rows go above the R peaks
    duration = len(signal) / fs
    edges = np.linspace(0.0, duration, OVERVIEW_BINS + 1)
    row_h = 0.22 * span
    for k, cls in enumerate(AAMI_CLASSES[1:]):
        base = top + 0.06 * span + k * row_h
        t = table.loc[table["label"] == cls, "time_s"].to_numpy()
        if t.size:  # one bar per bin with beats, all drawn as a single path (thousands of markers draw slowly)
            counts, _ = np.histogram(t, bins=edges)
            where = np.flatnonzero(counts)
            h = base + row_h * 0.85 * (0.35 + 0.65 * np.sqrt(counts[where] / counts.max()))
            mid = (edges[where] + edges[where + 1]) / 2
            x = [v for m in mid.tolist() for v in (m, m, None)]  # None (not NaN) breaks the line in plotly.js
            y = [v for hi in h.tolist() for v in (base, hi, None)]
            text = [f"{counted(int(c), cls + ' beat')}, {a:.0f}-{b:.0f} s"
                    for c, a, b in zip(counts[where], edges[where], edges[where + 1]) for _ in range(3)]
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{cls} ({t.size:,})", text=text,
                                     line=dict(color=CLASS_COLOURS[cls], width=2.5),
                                     hovertemplate="%{text}<extra></extra>"))
        fig.add_annotation(x=0, xref="paper", xanchor="right", y=base + row_h * 0.45, text=cls, showarrow=False,
                           font=dict(size=9, color=CLASS_COLOURS[cls]))
    mids = (edges[:-1] + edges[1:]) / 2  # invisible points across the record: a click anywhere picks its time
    fig.add_trace(go.Scatter(x=mids, y=np.full(mids.size, (bottom + top) / 2), mode="markers", name="time",
                             showlegend=False, marker=dict(size=10, opacity=0),
                             hovertemplate="%{x:.0f} s: click to show<extra></extra>"))
    for s0, s1 in unreadable or []:
        fig.add_vrect(x0=s0, x1=s1, fillcolor=UNREADABLE_COLOUR, opacity=0.3, line_width=0)
    fig.add_vrect(x0=view[0], x1=view[1], fillcolor="#4c9aff", opacity=0.25, line_width=0)
    fig.update_xaxes(range=[0, len(signal) / fs], title_text="time (s), whole record", title_standoff=2,
                     showgrid=False)
    fig.update_yaxes(visible=False, fixedrange=True,
                     range=[bottom - 0.1 * span, top + 0.06 * span + (len(AAMI_CLASSES) - 1) * row_h])
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=5, b=40), plot_bgcolor="white", hovermode="x",
                      hoverdistance=-1, legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), dragmode=False)
    return fig


def explanation_figure(expl: BeatExplanation, wave_mv: np.ndarray | None = None, height: int = 340) -> go.Figure:
    """One beat with its attribution: left, the waveform (mV if ``wave_mv`` is given) as a heat-coloured
    line over shaded P / QRS / ST-T regions; right, the attribution of each RR-context feature.

    Colours: red supports the explained class, blue argues against it (signed methods, a scale centred on
    0); for Saliency, darker red is more sensitive."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.66, 0.34], horizontal_spacing=0.2,
                        subplot_titles=(f"beat: attribution to class {expl.target} ({expl.method})",
                                        "RR-interval context"))
    y = np.asarray(wave_mv if wave_mv is not None else expl.wave, dtype=float)
    attr = expl.wave_attribution
    signed = expl.method != "Saliency"
    scale = float(np.abs(attr).max()) or 1.0
    colours = dict(colorscale="RdBu_r", cmin=-scale, cmax=scale) if signed else dict(colorscale="Reds", cmin=0, cmax=scale)
    fig.add_trace(go.Scatter(  # the heat-coloured halo under the trace ...
        x=expl.time_s, y=y, mode="markers", showlegend=False, customdata=attr,
        marker=dict(color=attr, size=10, line=dict(width=0), **colours),
        hovertemplate="%{x:.3f} s from R<br>%{y:.2f}<br>attribution %{customdata:.3g}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=expl.time_s, y=y, mode="lines", line=dict(color="#1c1c1c", width=1.3),  # ... the beat
                             hoverinfo="skip", showlegend=False), row=1, col=1)
    lo = float(np.nanmin(y)) if np.isfinite(y).any() else 0.0
    band = 0.12 * max(float(np.nanmax(y)) - lo, 0.5) if np.isfinite(y).any() else 0.2
    fig.add_trace(go.Bar(  # the colour band under the beat: the same attribution, read along the time axis
        x=expl.time_s, y=np.full(len(y), band), base=lo - 1.5 * band, width=1.0 / MODEL_FS, showlegend=False,
        marker=dict(color=attr, line=dict(width=0), **colours), customdata=attr, name="attribution band",
        hovertemplate="%{x:.3f} s from R<br>attribution %{customdata:.3g}<extra></extra>"), row=1, col=1)
    for k, (name, (lo, hi)) in enumerate(expl.regions.items()):  # after the traces (plotly skips shapes on empty
        # subplots); neutral greys, so that red and blue only ever mean evidence for and against
        fig.add_vrect(x0=lo, x1=hi, fillcolor=REGION_SHADES[k % 2], opacity=0.35, line_width=0, row=1, col=1,
                      layer="below", annotation_text=REGION_SHORT[name],  # centred on top, off the attribution
                      annotation_position="top",  # band below the beat, each name over its own region
                      annotation_font_size=11)
    labels = [RR_LABELS[c] for c in RR_FEATURES]
    fig.add_trace(go.Bar(
        y=labels, x=expl.rr_attribution, orientation="h", showlegend=False,
        marker_color=["#c21f1f" if a > 0 else "#1f5fbf" for a in expl.rr_attribution],
        customdata=expl.rr, hovertemplate="%{y} = %{customdata:.3f}<br>attribution %{x:.3g}<extra></extra>"),
        row=1, col=2)
    ecg_paper(fig, row=1, col=1)
    fig.update_xaxes(title_text="time from R peak (s)", row=1, col=1)
    fig.update_yaxes(title_text="mV" if wave_mv is not None else "normalised", row=1, col=1)
    fig.update_xaxes(title_text="attribution", row=1, col=2, zeroline=True)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=40, b=40))
    return fig


def probability_figure(probabilities: dict[str, float], height: int = 200) -> go.Figure:
    """Horizontal bars of the class probabilities (0-1), one per AAMI class."""
    classes = list(probabilities)
    fig = go.Figure(go.Bar(x=[probabilities[c] for c in classes], y=classes, orientation="h",
                           marker_color=[CLASS_COLOURS.get(c, "#888") for c in classes],
                           text=[f"{100 * probabilities[c]:.1f}%" for c in classes], textposition="auto",
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_xaxes(range=[0, 1], title_text="probability")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=height, margin=dict(l=30, r=10, t=10, b=40))
    return fig


TEMPLATE_PX_PER_MM = 6  # template gallery: 6 px per mm on both axes (25 mm/s, 10 mm/mV: square boxes)
_MARGIN = dict(l=34, r=6, t=26, b=22)


def template_range_mv(medians_mv: np.ndarray) -> tuple[float, float]:
    """One amplitude range (mV, on 0.5 mV lines) that holds every template of a record, so the gallery's
    beats are drawn to one scale."""
    m = np.asarray(medians_mv, dtype=float)
    finite = m[np.isfinite(m)]
    return range_on_grid(*((float(finite.min()), float(finite.max())) if finite.size else (-0.5, 0.5)))


def range_on_grid(lo: float, hi: float, margin_mv: float = 0.1) -> tuple[float, float]:
    """[lo - margin, hi + margin] widened to the 0.5 mV grid lines (mV)."""
    return (float(np.floor((lo - margin_mv) / GRID_MAJOR_MV) * GRID_MAJOR_MV),
            float(np.ceil((hi + margin_mv) / GRID_MAJOR_MV) * GRID_MAJOR_MV))


def template_figure(median_mv: np.ndarray, range_mv: tuple[float, float], title: str = "", colour: str = "#1c1c1c",
                    px_per_mm: float = TEMPLATE_PX_PER_MM, members_mv: np.ndarray | None = None) -> go.Figure:
    """One template's median beat (mV, MODEL_FS Hz, R peak at WINDOW_BEFORE) on ECG paper at 25 mm/s and
    10 mm/mV with square boxes: the figure's plot area is sized in pixels from the time span and ``range_mv``
    (``px_per_mm`` on both axes), so every template of a record is drawn to the same calibrated scale.
    ``members_mv`` (m, L): some of its beats, drawn thin and grey behind the median, so the reader sees how
    alike they are (``template_sample``)."""
    y = np.asarray(median_mv, dtype=float)
    t = (np.arange(y.size) - WINDOW_BEFORE) / MODEL_FS
    x0, x1 = float(t[0]), float(t[-1])
    lo, hi = range_mv
    width_mm, height_mm = (x1 - x0) * 25.0, (hi - lo) * 10.0
    fig = go.Figure()
    if members_mv is not None and len(members_mv):  # one path, the beats separated by gaps
        m = np.clip(np.asarray(members_mv, dtype=float), lo, hi)
        xs = np.concatenate([np.append(t, np.nan) for _ in range(len(m))])
        ys = np.concatenate([np.append(row, np.nan) for row in m])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#9a9a9a", width=0.7), opacity=0.6,
                                 hoverinfo="skip", name="members"))
    fig.add_trace(go.Scatter(x=t, y=y, mode="lines", line=dict(color=colour, width=1.6), hoverinfo="skip",
                             name="median"))
    ecg_paper(fig, width_s=x1 - x0)
    fig.update_xaxes(range=[x0, x1], showticklabels=False, fixedrange=True)
    fig.update_yaxes(range=[lo, hi], fixedrange=True, ticklabelstep=2, tickfont=dict(size=9))
    fig.update_layout(width=int(round(width_mm * px_per_mm)) + _MARGIN["l"] + _MARGIN["r"],
                      height=int(round(height_mm * px_per_mm)) + _MARGIN["t"] + _MARGIN["b"],
                      margin=_MARGIN, showlegend=False, title=dict(text=title, font=dict(size=12), x=0.02, y=0.98))
    return fig


def tachogram_figure(times_s: np.ndarray, hr_bpm: np.ndarray, events: pd.DataFrame | None = None,
                     view: tuple[float, float] | None = None, buckets: int = 1500, height: int = 200) -> go.Figure:
    """Heart rate (bpm, 60 / RR) over the whole record, min/max-decimated to ``buckets`` (so a 24-hour record
    stays light and every extreme beat survives), ventricular runs and pauses marked, the strip's window shaded."""
    idx, hr = minmax_decimate(np.asarray(hr_bpm, dtype=float), buckets) if len(hr_bpm) else (np.zeros(0, int), np.zeros(0))
    fig = go.Figure(go.Scatter(x=np.asarray(times_s)[idx] if len(idx) else [], y=hr, mode="lines", name="heart rate",
                               line=dict(color="#1c1c1c", width=1), hovertemplate="%{x:.0f} s<br>%{y:.0f} bpm<extra></extra>"))
    if events is not None and len(events):
        for kind, colour, symbol in (("ventricular run", CLASS_COLOURS["V"], "triangle-down"),
                                     ("ventricular triplet", CLASS_COLOURS["V"], "triangle-down"),
                                     ("supraventricular run", CLASS_COLOURS["S"], "triangle-down"),
                                     ("pause", "#6e6e6e", "line-ns-open")):
            e = events[events["event"] == kind]
            if len(e):
                fig.add_trace(go.Scatter(x=e["start_s"], y=np.full(len(e), np.nanmax(hr) if hr.size else 0), mode="markers",
                                         name=kind, marker=dict(color=colour, symbol=symbol, size=9),
                                         hovertemplate=f"{kind}" + " at %{x:.1f} s<extra></extra>"))
    if view is not None:
        fig.add_vrect(x0=view[0], x1=view[1], fillcolor="#4c9aff", opacity=0.2, line_width=0)
    fig.update_xaxes(title_text="time (s), whole record", showgrid=True, gridcolor="#eee")
    fig.update_yaxes(title_text="bpm", showgrid=True, gridcolor="#eee")
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=5, b=40), plot_bgcolor="white",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return fig
