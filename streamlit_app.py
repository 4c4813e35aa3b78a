"""ecgapp: label every heartbeat of an ECG (AAMI N, S, V, F, Q) and explain any beat with Captum.

Run: .venv/bin/streamlit run streamlit_app.py
A thin layer over the ``ecgapp`` library: every number and figure comes from library functions; this
script only lays out widgets, keeps the view in ``st.session_state`` and caches the heavy work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import streamlit as st

# Light imports only up here: the page, its notice and the record picker are drawn before the heavy ones
# (torch, captum, scipy, plotly: several seconds on a cold 2-core server) are imported further down.
from ecgapp.aami import AAMI_CLASSES
from ecgapp.errors import DataNotFoundError, InputError
from ecgapp.mitdb import list_records, load_record
from ecgapp.records import lead_caption
from ecgapp.uploads import MAX_UPLOAD_BYTES, load_upload, newest_upload, remove_stale_uploads

WEIGHTS = Path(__file__).resolve().parent / "weights" / "hybrid"
LOG = logging.getLogger("ecgapp.app")
WIDTHS_S = (5, 10, 20, 30, 60)
OVERVIEW_BUCKETS = 1500  # min/max pairs drawn for the whole record
TABLE_PAGE_ROWS = 1000  # beats table rows sent to the browser at a time
ANALYSES_KEPT = 12  # analyses kept for every session to share (most recently used)
ANALYSES_MAX_BYTES = 1_500_000_000  # ... and at most this much of them (a 24-hour lead's analysis: ~0.6 GB)
EVENT_LEAD_IN = {"ventricular bigeminy": 1, "ventricular trigeminy": 2, "supraventricular bigeminy": 1}  # normal
# beats before an episode's first ectopic beat: a click on the episode selects that ectopic beat
ON_TIME_V_FIRST = "on-time V first"  # beats table sort: the beats the on-time V gate labelled N, first
BY_TEMPLATE_FIRST = "by template first"  # beats table sort: beats whose label template consensus gave, first
SV_RUN_FIRST = "SV run first"  # beats table sort: beats the supraventricular run rule labelled S, first
FAR_SHAPE_FIRST = "far shape first"  # beats table sort: beats the far-shape step labelled V, first
ON_TIME_S_FIRST = "on-time S first"  # beats table sort: beats the on-time S gate labelled N, first
RULE_SORTS = {ON_TIME_V_FIRST: "on_time_v", BY_TEMPLATE_FIRST: "by_template", SV_RUN_FIRST: "sv_run",
              FAR_SHAPE_FIRST: "far_shape", ON_TIME_S_FIRST: "on_time_s"}  # -> column
# the beats table's label_by for a model label that a step of the rule gave (column -> name)
RULE_LABEL_BY = {"by_template": "template", "sv_run": "SV run", "far_shape": "far shape", "on_time_s": "on-time S"}
GALLERY = 8  # templates drawn in the review gallery (the rest are reached through the template picker)
REVIEWS_KEPT = 12  # records whose review a session keeps (reader labels, undo, adapted model)
SOURCES = {"reference": "reference annotations", "detected": "detected (QRS detector)"}
NOTICE = "Research demo, not a medical device: do not use it to diagnose or treat anyone."


def rule_flag(table, column: str, beat: int) -> bool:
    """Whether a step of the decision rule (the beats table's bool ``column``) gave ``beat`` its label; False for
    tables without the column."""
    return bool(table[column].iloc[beat]) if column in table else False


@st.cache_data(show_spinner=False)
def notice() -> str:
    """NOTICE and what the shipped model found on DS2, read from its card (plain JSON: no torch before the picker)."""
    try:
        se = json.loads(WEIGHTS.with_suffix(".json").read_text())["ds2"]["360Hz"]["report"]["Se"]
        found = (f" The classifier was trained on 22 MIT-BIH patients; on 22 unseen patients it found "
                 f"{se['V']:.0%} of ventricular beats but only {se['S']:.0%} of supraventricular ones (see the model card).")
    except (OSError, KeyError, ValueError):
        found = " See the model card for what the classifier was trained on and how well it did."
    return NOTICE + found

st.set_page_config(page_title="ecgapp - heartbeat classification", page_icon="🫀", layout="wide")


# ---------------------------------------------------------------- heavy work, cached
@st.cache_resource(show_spinner=False)
def startup() -> list[str]:
    """Once per server process: remove upload folders a killed earlier process left in the temp folder."""
    removed = remove_stale_uploads()
    if removed:
        LOG.warning("removed %d stale upload folder(s): %s", len(removed), ", ".join(removed))
    return removed


@st.cache_resource(show_spinner="Loading the model...")
def get_model():
    """The classifier and its model card, loaded once per server process (shared by every session)."""
    return load_model(WEIGHTS)


@st.cache_data(show_spinner=False)
def mitdb_info() -> dict:
    return {info.name: info for info in list_records()}


def record_labels() -> dict[str, str]:
    return {name: info.label for name, info in mitdb_info().items()}


@st.cache_resource(max_entries=6, show_spinner="Loading the record...")
def mitdb_record(name: str):
    return load_record(name)


@st.cache_resource(max_entries=4, show_spinner="Reading the upload...")
def uploaded_record(digest: str, _files: tuple, fs: float | None):
    """The Record of uploaded files; ``digest`` (their names and bytes hashed) is the cache key."""
    return load_upload(_files, fs=fs)


@st.cache_resource(show_spinner=False)
def analysis_store() -> tuple[OrderedDict, threading.Lock]:
    """Analyses shared read-only by every session, least recently used first, and the lock that guards them."""
    return OrderedDict(), threading.Lock()


def analysed(key: str, record, lead: str, source: str) -> Analysis:
    """The analysis of one lead of a record (``key``: MIT-BIH name or upload digest), computed once under a
    progress bar and kept while it is among the ANALYSES_KEPT most recently used and they fit in
    ANALYSES_MAX_BYTES (a few 24-hour records or a dozen 30-minute ones: memory levels off)."""
    store, lock = analysis_store()
    k = (key, lead, source)
    with lock:
        if k in store:
            store.move_to_end(k)
            return store[k]
    bar = st.progress(0.0, text="Filtering, finding and classifying beats...")
    try:
        a = analyse(get_model()[0], record, lead=lead, source=source,
                    progress=lambda done, what: bar.progress(min(max(done, 0.0), 1.0), text=f"{what.capitalize()}..."))
    finally:
        bar.empty()
    with lock:
        store[k] = a
        while len(store) > 1 and (len(store) > ANALYSES_KEPT or
                                  sum(v.nbytes for v in store.values()) > ANALYSES_MAX_BYTES):
            store.popitem(last=False)
    return a


@st.cache_data(max_entries=256, show_spinner="Computing the explanation...")
def explanation(key: str, lead: str, source: str, beat: int, method: str, target: str | None, _a: Analysis):
    return explain_beat(get_model()[0], _a.waves, _a.rr, beat, method=method, target=target,
                        in_af=bool(_a.table["af"].iloc[beat]),
                        on_time_v=rule_flag(_a.table, "on_time_v", beat),
                        by_template=rule_flag(_a.table, "by_template", beat), sv_run=rule_flag(_a.table, "sv_run", beat),
                        far_shape=rule_flag(_a.table, "far_shape", beat), on_time_s=rule_flag(_a.table, "on_time_s", beat),
                        served=_a.table[[f"p_{c}" for c in AAMI_CLASSES]].iloc[beat].to_numpy(float))


@st.cache_data(max_entries=16, show_spinner=False)
def overview_envelope(key: str, lead: str, source: str, _a: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """The overview's decimated trace, once per analysis (not on every click: a 24-hour lead is 31 M samples)."""
    return minmax_decimate(_a.signal, OVERVIEW_BUCKETS)


@st.cache_data(max_entries=16, show_spinner=False)
def strip_range(key: str, lead: str, source: str, _a: Analysis) -> tuple[float, float]:
    """The strip's amplitude range for this lead (mV), fixed for the whole record."""
    return strip_range_mv(_a.signal)


@st.cache_data(max_entries=16, show_spinner=False)
def downloads(key: str, lead: str, source: str, labels_key: str, _a: Analysis) -> tuple[bytes, str, bytes]:
    """The two downloads of an analysis as the reader has reviewed it (``labels_key``: ``Review.labels_key``,
    which names the labels themselves: a review's version number would let two sessions' reviews with the same
    number of changes share one cache entry, each downloading the other's labels)."""
    name, ann = wfdb_annotation_bytes(_a.table, _a.record, _a.fs)
    return beats_csv_bytes(_a.table), name, ann


@st.cache_data(max_entries=16, show_spinner="Grouping beats into templates...")
def templates_of(key: str, lead: str, source: str, _a: Analysis) -> tuple[Templates, np.ndarray]:
    """The record's beat templates and their median beats (mV), once per analysis."""
    t = record_templates(_a)
    return t, median_beats(_a.beats.windows, t)


@st.cache_resource(max_entries=128, show_spinner=False)
def gallery_figure(key: str, lead: str, source: str, t: int, range_mv: tuple[float, float], title: str, colour: str,
                   _median: np.ndarray, _members: np.ndarray):
    """A template's median beat over a dozen of its beats (grey) on ECG paper, built once (Plotly figures take
    ~25 ms each to build: the gallery of 8 was a quarter of a second on every rerun). Shared read-only:
    st.plotly_chart copies it."""
    return template_figure(_median, range_mv, title=title, colour=colour, members_mv=_members)


@st.cache_data(max_entries=16, show_spinner=False)
def report_of(key: str, lead: str, source: str, labels_key: str, _a: Analysis) -> dict:
    """The rhythm report of the labels shown (``labels_key``: ``Review.labels_key``), with the tachogram."""
    report = rhythm_report(_a.table, _a.broken)
    report["tachogram"] = tachogram(_a.table, _a.broken)
    return report


def unreadable_spans(a: Analysis) -> list[tuple[float, float]]:
    """The stretches the quality check found unreadable (s), as drawn on the strip and the overview."""
    return a.quality.spans() if a.quality is not None else []


def on_overview_select() -> None:
    """A click on the whole-record strip moves the window there (centred on the click)."""
    points = st.session_state.overview.selection.points
    if points:
        a = shown()
        width = st.session_state.get("view_width", 10)
        start = float(points[0]["x"]) - width / 2
        st.session_state.view_start = float(np.clip(round(start, 1), 0, max_start(a, width)))


def on_events_select() -> None:
    rows = st.session_state.events_table.selection.rows
    if rows:
        st.session_state.select_beat = int(st.session_state.events_rows[rows[0]])


def upload_digest(files: list[tuple[str, bytes]], fs) -> str:
    h = hashlib.sha256(repr(fs).encode())
    for name, data in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return "upload-" + h.hexdigest()[:16]


# ---------------------------------------------------------------- view state
def reset_view_if(context: str, record_key: str, a: Analysis) -> None:
    """A new record starts at t = 0 with no beat selected (nothing explained yet). Another lead or beat source
    of the same record keeps the time position, and the selected beat becomes the beat nearest in time to it
    (beat numbers differ between reference and detected beats)."""
    if st.session_state.get("context") == context:
        return
    same_record = st.session_state.get("context_record") == record_key
    st.session_state.context, st.session_state.context_record = context, record_key
    if not same_record:
        st.session_state.view_start = 0.0
        st.session_state.beat = None
        st.session_state.pop("beat_time", None)
        return
    t = st.session_state.get("beat_time")
    if st.session_state.get("beat") is not None and t is not None and len(a.table):
        st.session_state.beat = int(np.argmin(np.abs(a.table["time_s"].to_numpy() - t))) + 1


def show_beat(a: Analysis, beat: int) -> None:
    """Select beat number ``beat`` (1-based); move the window only when the beat is not already in view (then it
    sits a third of the way in), so a beat clicked on the strip stays under the cursor."""
    beat = int(np.clip(beat, 1, len(a.table)))
    st.session_state.beat = beat
    width = st.session_state.get("view_width", 10)
    t = float(a.table["time_s"].iloc[beat - 1])
    start = st.session_state.get("view_start", 0.0)
    if start + 0.1 <= t <= start + width - 0.1:
        return
    st.session_state.view_start = float(np.clip(round(t - width / 3, 1), 0, max_start(a, width)))


def shown() -> Analysis:
    """The analysis this session shows. Callbacks read it here rather than holding it in their arguments:
    Streamlit keeps widget callbacks of earlier runs, and through them every analysis ever shown."""
    return st.session_state.shown_analysis


def jump(cls: str, direction: int) -> None:
    """Select the next (+1) or previous (-1) beat labelled ``cls`` after/before the selected one."""
    a = shown()
    beats = np.flatnonzero(a.table["label"].to_numpy() == cls) + 1
    current = st.session_state.get("beat") or 0
    after = beats[beats > current] if direction > 0 else beats[beats < current][::-1]
    if after.size:
        show_beat(a, int(after[0]))
    else:
        st.session_state.jump_note = f"no {'later' if direction > 0 else 'earlier'} {cls} beat"


def page(direction: int) -> None:
    a = shown()
    width = st.session_state.get("view_width", 10)
    start = st.session_state.get("view_start", 0.0) + direction * width
    st.session_state.view_start = float(np.clip(start, 0, max_start(a, width)))


def max_start(a: Analysis, width: float) -> float:
    return float(max(0.0, np.floor((a.duration_s - width) * 10) / 10))


def on_table_select() -> None:
    rows = st.session_state.beat_table.selection.rows
    if rows:
        st.session_state.select_beat = st.session_state.table_rows[rows[0]]


def on_chart_select() -> None:
    """A click on the strip: a beat's letter or R-peak dot selects that beat; a click on the trace the beat
    nearest in time (the strip may be drawn in rows: ``figures.strip_time``)."""
    points = st.session_state.ecg_chart.selection.points
    if points:
        point = points[0]
        custom = point.get("customdata")
        if custom:
            st.session_state.select_beat = int(custom[0])
            return
        t = strip_time(st.session_state.strip_geometry, float(point["x"]), float(point.get("y", 0.0)))
        st.session_state.select_beat = int(np.argmin(np.abs(shown().table["time_s"].to_numpy() - t))) + 1


def show_selected_beat(beat: int) -> None:
    show_beat(shown(), beat)


# ---------------------------------------------------------------- the reader's review
def review_for(context: str, n: int) -> Review:
    """This session's review of the shown record (reader labels, undo, adapted model); kept across reruns
    and record changes for the REVIEWS_KEPT most recent records."""
    reviews = st.session_state.setdefault("reviews", OrderedDict())
    if context not in reviews or reviews[context].n != n:
        reviews[context] = Review(n)
    reviews.move_to_end(context)
    while len(reviews) > REVIEWS_KEPT:
        reviews.popitem(last=False)
    return reviews[context]


def current_review() -> Review:
    return st.session_state.reviews[st.session_state.context]


def relabel_template(label_key: str) -> None:
    t = st.session_state.get("review_template")
    if t is None:
        return
    members = st.session_state.shown_templates.members(int(t))
    label = st.session_state[label_key]
    changed, left = review_relabel_template(current_review(), members, label, network_of(members))
    st.session_state.review_note = ((f"T{int(t) + 1}: {changed:,} beat(s) relabelled {label}"
                                     if changed else f"T{int(t) + 1} already carries that label") + left_as_s(left))


def network_of(members) -> np.ndarray | None:
    """The network's own labels of ``members``, when a template labelled N is to leave its S beats to it."""
    keep = st.session_state.get("keep_network_s", KEEP_NETWORK_S)
    return network_labels(st.session_state.base_analysis)[members] if keep else None


def left_as_s(left: int) -> str:
    return (f"; {left:,} beat(s) of it the model reads as supraventricular premature (S) keep that label: a "
            f"normal template is a normal shape, and an S beat has it (check them one by one, or untick the box "
            f"under the gallery and relabel the template again to make them N too)" if left else "")


def confirm_template() -> None:
    """The reader agrees with the picked template: every member takes its most common shown label, as the reader's
    (so adaptation learns from them, and the model will not change them)."""
    t = st.session_state.get("review_template")
    if t is None:
        return
    members = st.session_state.shown_templates.members(int(t))
    label, other, left = confirm(current_review(), members, shown().table["label"].to_numpy()[members],
                                 network_of(members))
    st.session_state.review_note = (f"T{int(t) + 1}: {members.size - left:,} beat(s) confirmed as {label}"
                                    + (f" ({other:,} were labelled otherwise)" if other else "") + left_as_s(left))


def relabel_beat(beat: int) -> None:
    label = st.session_state.beat_label
    changed = current_review().relabel([beat - 1], label)
    st.session_state.review_note = f"beat {beat} relabelled {label}" if changed else f"beat {beat} is already {label}"


def undo_review() -> None:
    st.session_state.review_note = "undone" if current_review().undo() else "nothing to undo"


def adapt_review() -> None:
    review = current_review()
    try:
        changed = adapt_to_review(get_model()[0], st.session_state.base_analysis, review,
                                  keep_network_s=st.session_state.get("keep_network_s", KEEP_NETWORK_S))
    except ValueError as exc:
        st.session_state.review_note = str(exc)
        return
    st.session_state.review_note = (f"adapted to your {review.reader_count:,} label(s): {changed:,} other beat(s) "
                                    f"changed label (marked 'adapted' in the table)")


def show_template_member(direction: int) -> None:
    """Select the next (+1) / previous (-1) beat of the picked template after/before the selected beat."""
    t = st.session_state.get("review_template")
    if t is None:
        return
    members = st.session_state.shown_templates.members(int(t)) + 1
    current = st.session_state.get("beat") or 0
    after = members[members > current] if direction > 0 else members[members < current][::-1]
    show_beat(shown(), int(after[0] if after.size else members[0 if direction > 0 else -1]))


def render_input() -> dict:
    """The sidebar's input widgets, the title and the notice: drawn before the heavy imports, so the page and
    the record picker show at once on a cold server. Returns what was chosen (nothing is read yet)."""
    st.sidebar.title("ecgapp")
    for kept in ("mitdb_name", "view_width", "method", "gain"):  # keep choices whose widget is not drawn in this run
        if kept in st.session_state:
            st.session_state[kept] = st.session_state[kept]
    kind = st.sidebar.radio("ECG", ["MIT-BIH record", "Upload a file"], key="kind", horizontal=True)
    choice = {"kind": kind}
    try:
        if kind == "MIT-BIH record":
            labels = record_labels()
            choice["name"] = st.sidebar.selectbox("MIT-BIH Arrhythmia Database record", list(labels),
                                                  format_func=labels.get, key="mitdb_name",
                                                  help="age, sex and medications from the record's header")
        else:
            limit_mb = MAX_UPLOAD_BYTES // 2**20
            choice["uploads"] = st.sidebar.file_uploader(
                "ECG files", accept_multiple_files=True, key="upload",
                help=f"WFDB: the .hea and .dat files (plus an annotation file such as .atr for reference beats); "
                     f"or one CSV; or one EDF. Up to {limit_mb} MB in total.")
            st.sidebar.caption(f"WFDB (.hea + .dat [+ .atr]), CSV or EDF; at most {limit_mb} MB. Files are read in a "
                               f"temporary folder and never stored.")
            choice["csv_fs"] = st.sidebar.number_input("CSV sampling rate (Hz)", min_value=0.0, max_value=10_000.0,
                                                       value=None, help="only for a CSV without a time column",
                                                       key="csv_fs")
    except (DataNotFoundError, InputError) as exc:
        choice["problem"] = str(exc)
    st.title("Heartbeat classification with explanations")
    st.warning(notice(), icon="⚠️")
    return choice


def render(choice: dict) -> None:
    """The page below the notice (the record read, summary, ECG view, beats and explanations, downloads)."""
    kind = choice["kind"]
    record = None
    key = ""
    problem = choice.get("problem")
    if problem is None:
        try:
            if kind == "MIT-BIH record":
                record, key = mitdb_record(choice["name"]), choice["name"]
            elif choice.get("uploads"):
                files, earlier = newest_upload([(f.name, f.getvalue()) for f in choice["uploads"]])
                if earlier:
                    st.sidebar.info(f"Showing the newest upload ({', '.join(n for n, _ in files)}); the earlier "
                                    f"file(s) {', '.join(earlier)} are not used: remove them with the x beside each "
                                    f"name to tidy up.")
                fs = choice.get("csv_fs") or None
                key = upload_digest(files, fs)
                record = uploaded_record(key, tuple(files), fs)
        except (DataNotFoundError, InputError) as exc:
            problem = str(exc)
    if problem:
        st.error(problem)
        st.caption("Nothing was stored. Fix the file and upload it again, or pick a MIT-BIH record.")
        st.stop()
    if record is None:
        st.info("Upload an ECG in the sidebar (WFDB, CSV or EDF), or pick a MIT-BIH record.")
        st.stop()

    lead = st.sidebar.selectbox("Lead", record.leads, index=record.leads.index(record.default_lead), key=f"lead:{key}")
    has_reference = record.annotations is not None
    sources = list(SOURCES) if has_reference else ["detected"]
    source = st.sidebar.radio("Beat locations", sources, format_func=SOURCES.get, key=f"source:{key}",
                              help="reference annotations from the record's annotation file, or beats found by "
                                   "the QRS detector")
    if not has_reference:
        st.sidebar.caption("No annotation file: beats are detected.")

    try:
        a = analysed(key, record, lead, source)
    except (InputError, ValueError) as exc:
        st.error(str(exc))
        st.stop()
    context = f"{key}|{lead}|{source}"
    reset_view_if(context, key, a)
    review = review_for(context, len(a.table))
    st.session_state.base_analysis = a  # the model's own labels: what adaptation starts from
    a = reviewed(a, review)  # every figure, summary and download below shows the reader's labels
    st.session_state.shown_analysis = a
    n_beats = len(a.table)
    if "select_beat" in st.session_state:  # a click in the table or on the chart, applied before widgets exist
        show_beat(a, st.session_state.pop("select_beat"))
    if st.session_state.get("beat") is not None:
        st.session_state.beat = int(np.clip(st.session_state.beat, 1, n_beats))
    selected = st.session_state.get("beat")
    if selected is not None:  # remembered by time, so another lead or beat source keeps the same beat
        st.session_state.beat_time = float(a.table["time_s"].iloc[selected - 1])

    # ---------------------------------------------------------------- header and summary
    if kind == "MIT-BIH record":
        st.subheader(record_labels()[record.name])
        clinical = " ".join(mitdb_info()[record.name].comments)  # the header's notes beyond age, sex, medications
        role = mitdb_info()[record.name].role
        if role == "training":
            st.warning(f"Record {record.name} was used to train the shipped model (DS1): its labels and its agreement "
                       f"with the reference flatter the model. Test records (DS2) show how it does on new patients.",
                       icon="⚠️")
        elif role == "paced":
            st.warning(f"Record {record.name} is paced. The model has not learnt paced beats (AAMI leaves paced records "
                       f"out, and so did training): paced beats get N, V or F labels that mean nothing.", icon="⚠️")
    else:
        st.subheader(record.name)
        clinical = " ".join(record.comments)
    facts = f"lead {a.lead} - {a.fs:g} Hz - {a.duration_s / 60:.1f} min - {n_beats} beats ({SOURCES[source]})"
    st.caption(facts + (f" - {clinical}" if clinical else ""))
    if a.lead != "MLII":
        st.caption(lead_caption(a.lead))
    for note in record.notes:
        st.info(note)
    if a.beats.skipped:
        st.info(f"{a.beats.skipped} beat(s) were not classified: their window touches missing data.")

    s = a.summary
    hr = s["heart_rate_bpm"]
    cols = st.columns(6 if a.agreement is not None else 5)
    cols[0].metric("beats", s["beats"])
    cols[1].metric("mean heart rate", f"{hr['mean']:.0f} bpm" if np.isfinite(hr["mean"]) else "-")
    cols[2].metric("heart rate min-max", f"{hr['min']:.0f}-{hr['max']:.0f}" if np.isfinite(hr["min"]) else "-",
                   help="beats per minute, over a running median of 5 RR intervals")
    readable = " (unreadable stretches left out)" if s.get("unreadable_beats") else ""
    cols[3].metric("S burden", f"{s['burden_pct']['S']:.1f}%", help=f"share of beats labelled S{readable}")
    cols[4].metric("V burden", f"{s['burden_pct']['V']:.1f}%", help=f"share of beats labelled V{readable}")
    if a.agreement is not None:
        cols[5].metric("agreement", f"{100 * a.agreement.accuracy:.1f}%",
                       help="share of beats whose label matches the reference annotation (details below)")
    st.markdown("Beats by label: " + ", ".join(f"**{c}** {n}" for c, n in s["counts"].items()))
    by = a.table["label_by"].value_counts()
    if by.get("reader", 0) or by.get("adapted", 0):
        st.caption(f"Labels: {by.get('reader', 0):,} yours, {by.get('adapted', 0):,} changed by the model adapted to "
                   f"this patient, {by.get('model', 0):,} the shipped model's (the table's `label_by` column). "
                   f"Heart rate, burden, agreement and downloads follow these labels.")
    if spans := unreadable_spans(a):
        st.info(f"{len(spans)} stretch(es), {a.quality.unreadable_s:.0f} s in all, look unreadable (noise or artefact; shaded grey): "
                f"their {s['unreadable_beats']:,} beat(s) are labelled Q and left out of heart rate, burden and the "
                f"rhythm report (the table's `unreadable` column; `network_label` keeps what the network said). "
                f"Relabel a beat to count it again.")
    for note in trust_notes(a.table, a.agreement):
        st.warning(note, icon="⚠️")
    if s["looks_like_noise"]:
        st.warning(f"The beats found here do not repeat one shape (median correlation with the record's dominant "
                   f"beat {s['template_r_median']:.2f}; every MIT-BIH record has 0.82 or more): this looks like "
                   f"noise, not an ECG, and its labels mean nothing.", icon="⚠️")
    if s["af_pct"] > 0:
        v_share = s["burden_pct"]["V"]
        ectopy = (f"; here {v_share:.0f}% of beats are labelled V, so frequent ectopic beats may be the cause"
                  if v_share >= 5 else "")
        st.info(f"Irregularly irregular RR intervals in {s['af_pct']:.0f}% of beats, read from beat timing only: "
                f"atrial fibrillation or flutter looks like this, and so do frequent ectopic beats with varying "
                f"coupling{ectopy}. Check the strip there (the table's `af` column marks the beats). They are not "
                f"labelled S: in atrial fibrillation an early beat is not ectopic.")

    if a.agreement is not None:
        with st.expander(f"Agreement with the reference labels: {100 * a.agreement.accuracy:.1f}% of "
                         f"{int(a.agreement.matrix.sum())} beats"):
            stats, matrix = agreement_frames(a.agreement)
            left, right = st.columns(2)
            left.dataframe(stats.style.format({"Se": "{:.3f}", "+P": "{:.3f}", "F1": "{:.3f}"}, na_rep="-"))
            right.dataframe(matrix)
            if a.detection:
                d = a.detection
                st.caption(f"Detected beats vs the reference (150 ms window): {d['matched']} matched, {d['missed']} "
                           f"missed, {d['extra']} extra.")

    # ---------------------------------------------------------------- the ECG view
    st.markdown("#### ECG")
    c = st.columns([1.1, 0.9, 0.9, 1.1, 0.9, 0.9, 1.2, 1.4])
    st.session_state.setdefault("view_width", 10)
    width = c[0].selectbox("window (s)", WIDTHS_S, key="view_width")
    gain = c[7].selectbox("gain", GAINS_MM_MV, key="gain", format_func=lambda g: f"{g:g} mm/mV",
                          **({} if "gain" in st.session_state else {"index": 1}),  # no default over a kept value
                          help="25 mm/s; 10 mm/mV is standard, 5 for tall complexes, 20 for small ones")
    c[1].button("◀ page", on_click=page, args=(-1,), width="stretch")
    c[2].button("page ▶", on_click=page, args=(1,), width="stretch")
    jump_cls = c[3].selectbox("jump to class", AAMI_CLASSES, index=2, key="jump_cls", label_visibility="collapsed")
    c[4].button(f"◀ {jump_cls}", on_click=jump, args=(jump_cls, -1), width="stretch",
                help=f"previous {jump_cls} beat")
    c[5].button(f"{jump_cls} ▶", on_click=jump, args=(jump_cls, 1), width="stretch",
                help=f"next {jump_cls} beat")
    show_raw = c[6].toggle("raw overlay", key="show_raw")
    if note := st.session_state.pop("jump_note", None):
        st.caption(note)
    top = max_start(a, width)
    st.session_state.view_start = float(min(st.session_state.get("view_start", 0.0), top))
    start = st.slider("start (s)", 0.0, max(top, 0.1), step=0.1, key="view_start", disabled=top == 0)
    view = (start, min(start + width, a.duration_s))
    range_mv = strip_range(key, a.lead, source, a)
    st.session_state.strip_geometry = strip_geometry(*view, range_mv)
    st.caption(f"25 mm/s, {gain:g} mm/mV (square 1 mm and 5 mm boxes; the pulse before each row is 1 mV); "
               f"{'rows of 10 s; ' if width > 10 else ''}click a beat's letter to explain it.")
    st.plotly_chart(ecg_figure(a.signal, 360.0, a.table, *view, raw=a.raw if show_raw else None,
                               selected=None if selected is None else selected - 1, gain_mm_mv=gain,
                               range_mv=range_mv, unreadable=unreadable_spans(a)),
                    width="stretch", key="ecg_chart", on_select=on_chart_select,
                    selection_mode="points", config={"displaylogo": False})
    st.plotly_chart(overview_figure(a.signal, 360.0, a.table, view, buckets=OVERVIEW_BUCKETS,
                                    envelope=overview_envelope(key, a.lead, source, a),
                                    unreadable=unreadable_spans(a), height=175), width="stretch",
                    config={"displayModeBar": False}, key="overview", on_select=on_overview_select,
                    selection_mode="points")

    render_rhythm_report(key, source, a, review, view)

    # ---------------------------------------------------------------- beats and explanation
    left, right = st.columns([1.25, 1.75])
    with left:
        st.markdown("#### Beats")
        classes = st.multiselect("classes", AAMI_CLASSES, default=list(AAMI_CLASSES), key="table_classes")
        f1, f2 = st.columns([1, 1.3])
        sorts = ["time", "least certain first"] + [name for name, column in RULE_SORTS.items()
                                                   if column in a.table and a.table[column].any()]
        if st.session_state.get("table_sort") not in sorts:
            st.session_state.table_sort = "time"
        order = f1.selectbox("sort", sorts, key="table_sort", label_visibility="collapsed",
                             help="on-time V first: beats the network read as V that the rule labelled N because "
                                  "they came on time (check them when this patient has late-cycle PVCs); by template "
                                  "first: beats whose label their template gave, not the network's own reading "
                                  "(label_by: template); SV run first: beats the network read as N inside a fast run "
                                  "it reads as supraventricular, labelled S by the rule (label_by: SV run); far shape "
                                  "first: beats the network read as S whose QRS shape is far from every normal shape of "
                                  "this patient, labelled V by the rule (label_by: far shape); on-time S first: beats "
                                  "the network read as S that came neither early nor fast, labelled N by the rule "
                                  "(label_by: on-time S)")
        only_diff = f2.checkbox("only where the reference differs", key="only_diff",
                                disabled=a.agreement is None)
        table = a.table.assign(beat=np.arange(1, n_beats + 1))
        shown = table[table["label"].isin(classes)]
        if only_diff:
            shown = shown[(shown["reference"] != "") & (shown["reference"] != shown["label"])]
        if order == "least certain first":
            shown = shown.sort_values("confidence", kind="stable")
        elif order in RULE_SORTS:
            shown = shown.sort_values(RULE_SORTS[order], ascending=False, kind="stable")
        pages = max(1, -(-len(shown) // TABLE_PAGE_ROWS))  # a 24-hour record: only one page goes to the browser
        if selected is not None and st.session_state.get("table_page_beat") != selected:
            where = np.flatnonzero(shown["beat"].to_numpy() == selected)  # a newly selected beat: turn to its page
            if where.size:
                st.session_state.table_page = int(where[0] // TABLE_PAGE_ROWS) + 1
            st.session_state.table_page_beat = selected
        st.session_state.table_page = int(np.clip(st.session_state.get("table_page", 1), 1, pages))
        page_no = (st.number_input(f"page (of {pages})", 1, pages, step=1, key="table_page") if pages > 1 else 1)
        part = shown.iloc[(page_no - 1) * TABLE_PAGE_ROWS: page_no * TABLE_PAGE_ROWS]
        cols_shown = ["beat", "time_s", "label", "label_by", "confidence", "reference"]  # who labelled it, in view
        small = {c: st.column_config.Column(width="small") for c in ("beat", "label", "reference", "label_by")}
        st.session_state.table_rows = part["beat"].tolist()
        view = part[cols_shown].copy()
        for column, by_rule in RULE_LABEL_BY.items():  # the model's label, given by a step of the rule: say which
            if column in part:
                view.loc[part[column].to_numpy(bool) & (part["label_by"] == "model").to_numpy(), "label_by"] = by_rule
        st.dataframe(view, hide_index=True, height=320, key="beat_table", on_select=on_table_select,
                     selection_mode="single-row",
                     column_config={**small, "confidence": st.column_config.NumberColumn(format="%.2f", width="small"),
                                    "time_s": st.column_config.NumberColumn("time (s)", format="%.2f", width="small")})
        rows = (f"; rows {(page_no - 1) * TABLE_PAGE_ROWS + 1:,}-{(page_no - 1) * TABLE_PAGE_ROWS + len(part):,} "
                f"shown" if pages > 1 else "")
        st.caption(f"{len(shown):,} of {n_beats:,} beats{rows}. Click a row, or a beat on the ECG, to explain it.")

    with right:
        st.markdown("#### Why this label?")
        e1, e2, e3 = st.columns([1, 1.4, 1.2])
        beat = e1.number_input("beat #", min_value=1, max_value=n_beats, step=1, key="beat", value=None,
                               placeholder="pick a beat")
        method = e2.selectbox("method", METHODS, key="method")
        target = e3.selectbox("explain class", ["predicted"] + list(AAMI_CLASSES), key="target",
                              help="the class whose score is explained: the predicted one, or any other")
        if beat is None:
            st.info(f"Pick a beat to see why the model labelled it: click it on the ECG or in the table, type its "
                    f"number, or jump to the next {jump_cls} beat with {jump_cls} ▶.")
        else:
            beat = int(beat)
            row = a.table.iloc[beat - 1]
            expl = explanation(key, a.lead, source, beat - 1, method, None if target == "predicted" else target, a)
            ref = f", reference {row['reference']}" if row["reference"] else ""
            whose = {"reader": "your label", "adapted": "the adapted model's label",
                     "quality": "an unreadable stretch"}.get(row["label_by"])
            said = (f"{whose}; the shipped model said {row['network_label']} at "
                    f"{100 * row[f'p_{row.network_label}']:.0f}%" if whose else f"confidence {100 * row['confidence']:.0f}%")
            st.markdown(f"Beat {beat} at {row['time_s']:.2f} s: **{row['label']}** ({CLASS_NAMES[row['label']]}), "
                        f"{said}{ref}")
            st.plotly_chart(explanation_figure(expl, a.beats.windows[beat - 1]), width="stretch",
                            key="explanation_chart", config={"displaylogo": False})
            st.caption("Red: evidence for the class; blue: against it (Saliency: darker = more sensitive). Grey bands: "
                       "the beat's regions, found on this beat (QRS onset and offset; a P wave only where one is "
                       "found, otherwise pre-QRS).")
            target_cls = None if target == "predicted" else target
            others = [explanation(key, a.lead, source, beat - 1, m, target_cls, a) for m in METHODS]
            if disagree := method_disagreement(others):
                st.info(disagree)
            p1, p2 = st.columns([1, 1.6])
            p1.plotly_chart(probability_figure(expl.probabilities), width="stretch", key="proba_chart",
                            config={"displayModeBar": False})
            p2.markdown("\n".join(f"- {line}" for line in reading(expl)))
            b1, b2, b3 = st.columns([1.4, 0.8, 1])
            b1.button("show this beat on the ECG", on_click=show_selected_beat, args=(beat,))
            b2.selectbox("label as", AAMI_CLASSES, key="beat_label", label_visibility="collapsed",
                         index=AAMI_CLASSES.index(row["label"]))
            b3.button("relabel this beat", on_click=relabel_beat, args=(beat,),
                      help="your label replaces the model's for this beat (undo in the review below)")
            if whose:
                st.caption("The explanation is of the shipped model's decision.")

    # ---------------------------------------------------------------- review: templates, relabel, adapt
    render_review(key, source, a, review)

    # ---------------------------------------------------------------- downloads and model card
    st.markdown("#### Downloads")
    csv, ann_name, ann = downloads(key, a.lead, source, review.labels_key, a)
    base = f"{safe_record_name(a.record)}_{safe_record_name(a.lead)}"
    d1, d2, d3 = st.columns(3)
    d1.download_button("beats CSV", csv, file_name=f"{base}_beats.csv", mime="text/csv", key="dl_csv",
                       help="one row per beat: sample, time_s, label, confidence, p_N..p_Q, reference, af, "
                            "template_r, network_label, unreadable, model_label, label_by (model, adapted, reader "
                            "or quality)")
    d2.download_button(f"WFDB annotations ({ann_name})", ann, file_name=ann_name, mime="application/octet-stream",
                       key="dl_wfdb", help="read with wfdb.rdann(record, 'pred'); symbols are the AAMI letters; "
                                           "aux_note: 'reader' for your labels, 'unreadable' for beats of "
                                           "unreadable stretches, else the confidence")
    d3.download_button("rhythm report (CSV)", events_csv_bytes(report_of(key, a.lead, source, review.labels_key, a)["events"]),
                       file_name=f"{base}_rhythm_events.csv", mime="text/csv", key="dl_events",
                       help="one row per event: couplets, triplets, runs, bigeminy, trigeminy, pauses, with start, "
                            "duration, beats, rate and the first beat's number")

    model, card = get_model()
    if review.adapted_state is not None:
        st.download_button("adapted model (zip: weights and card)", adapted_model_zip(review, card),
                           file_name=f"{base}_adapted_model.zip", mime="application/zip", key="dl_adapted",
                           help="the model adapted to this patient: adapted.pt (torch.load(..., weights_only=True)) "
                                "and adapted.json; the shipped weights are never changed")
    with st.expander("Model card"):
        st.markdown(f"**{card['architecture']}** CNN+LSTM, {card['parameters']:,} parameters; trained with "
                    f"`{card['command']}`. {card['data']['split']}. Data: {card['data']['database']}. "
                    f"Training augmentation: {card['data']['augmentation']}."
                    + (f" Subject-invariant training (strength {card['train_config']['invariance']:g}): a patient "
                       f"classifier behind a reversed gradient pushes the network to drop what identifies the "
                       f"training patient; it is not part of the shipped network."
                       if card.get("train_config", {}).get("invariance") else ""))
        rule = (card.get("cross_validation") or {}).get("decision_rule") or {}
        if rule:
            early, pause, fast, sure = (*(rule.get("v_gate") or (0.0, 0.0, 0.0)), 1.0)[:4]
            run = rule.get("sv_run") or (0.0, 0.0, 0.0)
            s_gate = rule.get("s_gate") or (0.0, 0.0)
            st.markdown("Decision rule, chosen in cross-validation: "
                        + (f"no S where the RR intervals read as atrial fibrillation (irregularity above "
                           f"{rule['af_threshold']:g}); " if rule.get("af_threshold") else "")
                        + (f"a beat the network reads as V that comes on time (at least {early:.0%} of the local RR, "
                           f"no pause after it: at most {pause:.0%}, and at least {fast:.0%} of the record's usual RR) "
                           + (f"and of which it is less than {sure:.0%} sure " if sure < 1 else "")
                           + "is labelled N, since premature ventricular beats come early, before a pause or in a "
                           "fast run (late-cycle PVCs are the exception: check them); " if early > 0 else "")
                        + (f"a beat the network reads as S that comes neither early (at least {s_gate[0]:.0%} of the "
                           f"local RR) nor fast (at least {s_gate[1]:.0%} of the record's usual RR) is labelled N, since "
                           f"AAMI's S is the premature supraventricular beat (an escape beat is N); "
                           if s_gate[0] > 0 else "")
                        + f"probabilities divided by a temperature of {rule.get('temperature', 1.0):.2f}"
                        + (f"; then each beat's N, V, F and Q probabilities pulled {rule['template_mix']:.0%} of the "
                           f"way towards the average of its template (this record's beats of its shape and timing), "
                           f"as Holter software labels a shape as a whole; S stays each beat's own, except that a "
                           f"beat read as S in a template that reads V is labelled V"
                           if rule.get("template_mix") else "")
                        + (f"; a beat read as S whose QRS shape is farther than {rule['far_shape']:g} (relative "
                           f"distance) from every normal shape of this record (its commonest, and those read mostly "
                           f"as N) is labelled V, since a supraventricular beat keeps the normal QRS unless aberrant"
                           if rule.get("far_shape") else "")
                        + (f"; last, a beat read as N inside a run of at least 3 beats that starts abruptly (under "
                           f"{run[2]:.0%} of the interval before it) and goes on fast (under {run[0]:.0%} of the "
                           f"record's usual RR) and steady (each interval within {run[1]:.0%} of the one before), "
                           f"outside atrial fibrillation, is labelled S when the network reads a beat of the run as S "
                           f"and none as V: the beats of a supraventricular tachycardia are S."
                           if run[0] > 0 else "."))
        cv = (card.get("cross_validation") or {}).get("at_360Hz")
        if cv:
            st.markdown(f"Cross-validation inside DS1 (each of 22 patients held out once): macro-F1 (N, S, V) "
                        f"{cv['with_rule']['macro_F1_NSV']:.3f}; per fold {cv['fold_macro_f1_mean']:.3f} "
                        f"± {cv['fold_macro_f1_sd']:.3f}.")
        for rate, res in (card.get("ds2") or {}).items():
            ds2 = res["report"]
            st.markdown(f"DS2 at {rate} (22 unseen patients, reference beats): accuracy {ds2['accuracy']:.3f}, "
                        f"macro-F1 (N, S, V) {ds2['macro_F1_NSV']:.3f}, expected calibration error {res['ece']:.3f}")
            st.dataframe(pd.DataFrame({k: ds2[k] for k in ("Se", "+P", "F1", "support")}))
        st.caption("Data: MIT-BIH Arrhythmia Database (Moody & Mark 2001), PhysioNet (Goldberger et al. 2000), "
                   "ODC-By 1.0.")


def render_rhythm_report(key: str, source: str, a: Analysis, review: Review, view: tuple[float, float]) -> None:
    """Holter-style rhythm report of the labels shown: counts, longest items, tachogram, clickable events."""
    report = report_of(key, a.lead, source, review.labels_key, a)
    counts = report["counts"]
    n_v_runs = counts["ventricular triplet"] + counts["ventricular run"]
    with st.expander("Rhythm report: " + ", ".join(
            counted(n, what) for n, what in ((counts["ventricular couplet"], "ventricular couplet"),
                                              (n_v_runs, "ventricular run"),
                                              (counts["supraventricular run"], "supraventricular run"),
                                              (counts["ventricular bigeminy"], "bigeminy episode"),
                                              (counts["pause"], "pause"))), expanded=True):
        m = st.columns(6)
        m[0].metric("V couplets", counts["ventricular couplet"], help="exactly 2 consecutive V beats")
        m[1].metric("V triplets / runs", f"{counts['ventricular triplet']} / {counts['ventricular run']}",
                    help="3 consecutive V beats / 4 or more")
        longest = report["longest_v_run"]
        m[2].metric("longest V run", f"{longest['beats']} beats" if longest else "-",
                    help=(f"at {longest['rate_bpm']:.0f} bpm; " if longest else "") +
                         f"ventricular tachycardia (over 100 bpm): {counts['ventricular tachycardia']} episode(s)")
        sv = report["longest_sv_run"]
        m[3].metric("SV runs", counts["supraventricular run"],
                    help="3 or more consecutive S beats" + (f"; longest {sv['beats']} beats at {sv['rate_bpm']:.0f} "
                                                            f"bpm" if sv else ""))
        m[4].metric("bi- / trigeminy", f"{counts['ventricular bigeminy']} / {counts['ventricular trigeminy']}",
                    help="ventricular bigeminy / trigeminy: episodes of at least 3 N-V (N-N-V) cycles")
        pause = report["longest_pause"]
        m[5].metric("longest pause", f"{pause['seconds']:.1f} s" if pause else "-",
                    help="longest RR interval (intervals over missing data left out); pauses of 2 s or more: "
                         f"{counts['pause']}")
        times, hr = report["tachogram"]
        st.plotly_chart(tachogram_figure(times, hr, report["events"], view), width="stretch", key="tachogram",
                        config={"displayModeBar": False})
        events = report["events"]
        if len(events):
            lead_in = events["event"].map(EVENT_LEAD_IN).fillna(0).astype(int)  # a bigeminy episode starts with
            st.session_state.events_rows = (events["first_beat"] + lead_in).tolist()  # N: show its first V
            st.dataframe(events[["event", "start_s", "duration_s", "beats", "rate_bpm"]], hide_index=True, height=200,
                         key="events_table", on_select=on_events_select, selection_mode="single-row",
                         column_config={"start_s": st.column_config.NumberColumn("start (s)", format="%.1f"),
                                        "duration_s": st.column_config.NumberColumn("duration (s)", format="%.1f"),
                                        "rate_bpm": st.column_config.NumberColumn("rate (bpm)", format="%.0f")})
            st.caption(f"{counted(len(events), 'event')} from the labels shown (yours where you relabelled). Click a row to see "
                       f"it on the ECG (its first ectopic beat; a pause: the beat before it).")
        else:
            st.caption("No couplets, runs, bigeminy, trigeminy or pauses in the labels shown.")


def render_review(key: str, source: str, a: Analysis, review: Review) -> None:
    """The template gallery and the reader's tools: relabel a template or a beat, undo, adapt."""
    st.markdown("#### Review by template")
    templates, medians = templates_of(key, a.lead, source, st.session_state.base_analysis)
    st.session_state.shown_templates = templates
    labels = a.table["model_label"].to_numpy()  # the picker names templates by the shipped model's labels:
    # its options stay the same while the reader relabels (a changed option list would reset the picker)
    st.caption(f"{len(templates)} templates: beats grouped by shape (QRS and early ST) and by timing (early against "
               f"the local rhythm, fast against this patient's usual rate, or on time); where the model labels beats of "
               f"one template two ways, each way is its own template (\"model's S\"): check both. Relabel a template "
               f"and all its beats follow; then let the model adapt to your labels and relabel the rest of the record. "
               f"Drawn at 25 mm/s and 10 mm/mV.")
    lo_hi = template_range_mv(medians[:GALLERY])
    cols = st.columns(4)
    for t in range(min(GALLERY, len(templates))):
        mix = a.table["label"].iloc[templates.members(t)].value_counts()
        top = str(mix.index[0])
        title = template_title(templates, t, split=False)  # the gallery's figures are narrow: split in the caption
        with cols[t % 4]:
            st.plotly_chart(gallery_figure(key, a.lead, source, t, lo_hi, title, CLASS_COLOURS.get(top, "#1c1c1c"),
                                           medians[t], a.beats.windows[template_sample(templates, t)]),
                            width="content", key=f"template_{t}", config={"displayModeBar": False, "staticPlot": True})
            split = f" · split: model's {templates.split[t]}" if templates.split[t] else ""
            st.caption(" · ".join(f"{c} {n:,}" for c, n in mix.items()) + split)
    r1, r2, r3, r4, r5 = st.columns([2.6, 0.8, 1.2, 1, 1])
    r1.selectbox("template", range(len(templates)), key="review_template",
                 format_func=lambda t: describe(templates, t, labels))
    r2.selectbox("label as", AAMI_CLASSES, key="template_label")
    r3.button("relabel template", on_click=relabel_template, args=("template_label",), width="stretch",
              help="every beat of the template gets this label (yours: the model will not change it), unless the "
                   "box below is ticked and the label is N: then the beats the model reads as S keep S")
    r4.button("◀ its beats", on_click=show_template_member, args=(-1,), width="stretch",
              help="previous beat of this template on the ECG")
    r5.button("its beats ▶", on_click=show_template_member, args=(1,), width="stretch",
              help="next beat of this template on the ECG")
    st.checkbox("a template labelled N leaves the beats the model reads as S to the model", value=KEEP_NETWORK_S,
                key="keep_network_s",
                help="as a Holter reader's normal template: it says the shape is normal, and a supraventricular "
                     "premature beat has the normal shape, so the model's S beats in it stay S (and adaptation does "
                     "not spread N to them). Off by default: on the MIT-BIH training patients it did not help on "
                     "average, and on the test patients most such S beats were false (README, experiments row 49)")
    u0, u1, u2, u3 = st.columns([1.3, 1, 1.6, 3])
    u0.button("confirm template", on_click=confirm_template, width="stretch", key="review_confirm",
              help="you agree with this template: its beats take its most common label as yours (adaptation "
                   "learns from them; the model will not change them)")
    u1.button("undo", on_click=undo_review, disabled=not review.can_undo, width="stretch", key="review_undo")
    u2.button("adapt to my labels", on_click=adapt_review, disabled=review.reader_count == 0, width="stretch",
              key="review_adapt", help="fine-tune a copy of the model on your labels (a few seconds) and relabel "
                                       "every beat you have not labelled; the shipped weights are not changed")
    if note := st.session_state.pop("review_note", None):
        u3.info(note)
    elif review.reader_count:
        u3.caption(f"{review.reader_count:,} beat(s) carry your label.")


HEAVY = ("torch", "captum", "plotly", "scipy.signal")  # imported below, after the page and its picker are drawn

try:
    startup()
    choice = render_input()
    with st.spinner("Starting up: loading the model's libraries (first visit to this server only)...") \
            if not all(m in sys.modules for m in HEAVY) else nullcontext():
        import pandas as pd  # noqa: E402 (here on purpose: see HEAVY)

        from ecgapp.analysis import Analysis, analyse  # noqa: E402
        from ecgapp.explain import CLASS_NAMES, METHODS, explain_beat, method_disagreement, reading  # noqa: E402
        from ecgapp.exports import (beats_csv_bytes, events_csv_bytes, safe_record_name,  # noqa: E402
                                    wfdb_annotation_bytes)
        from ecgapp.figures import (CLASS_COLOURS, GAINS_MM_MV, ecg_figure, explanation_figure,  # noqa: E402
                                    minmax_decimate, overview_figure, probability_figure, strip_geometry,
                                    strip_range_mv, strip_time, tachogram_figure, template_figure, template_range_mv)
        from ecgapp.holter import rhythm_report, tachogram  # noqa: E402
        from ecgapp.model import load_model  # noqa: E402
        from ecgapp.review import (Review, adapt_to_review, adapted_model_zip, confirm,  # noqa: E402
                                   network_labels, record_templates, reviewed)
        from ecgapp.review import relabel_template as review_relabel_template  # noqa: E402 (the app has its own)
        from ecgapp.adapt import KEEP_NETWORK_S  # noqa: E402
        from ecgapp.summary import agreement_frames, trust_notes  # noqa: E402
        from ecgapp.templates import (Templates, counted, describe, median_beats, template_sample,  # noqa: E402
                                      template_title)
    render(choice)
except Exception:  # a bug must not show a traceback with server paths: one message, details in the server log
    LOG.exception("the page failed")
    st.error("Something went wrong while preparing this page. Nothing you uploaded was stored. Pick another "
             "record or reload the page; the details are in the server's log.")
