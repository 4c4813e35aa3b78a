"""ecgapp: the Streamlit clinical demo (placeholder until the app issue lands).

For now it lets a user pick a MIT-BIH record and see its header facts and reference beat counts,
which exercises the library end to end. Run: .venv/bin/streamlit run streamlit_app.py
"""

import streamlit as st

from ecgapp import DataNotFoundError, InputError, class_counts, extract_beats, list_records, load_record

st.set_page_config(page_title="ecgapp", layout="wide")
st.title("ecgapp: heartbeat classification with explanations")
st.info("Research demo, not a medical device. The classifier and the ECG view arrive in the next releases.")


@st.cache_data(show_spinner=False)
def record_labels() -> dict[str, str]:
    return {info.name: info.label for info in list_records()}


@st.cache_data(show_spinner="Loading record...")
def record_summary(name: str) -> dict:
    rec = load_record(name)
    beats = extract_beats(rec)
    return {"leads": rec.leads, "duration_s": rec.duration_s, "comments": rec.comments,
            "counts": class_counts(beats.label), "lead": beats.lead}


try:
    labels = record_labels()
    name = st.sidebar.selectbox("MIT-BIH record", list(labels), format_func=labels.get)
    summary = record_summary(name)
except (DataNotFoundError, InputError) as exc:
    st.error(str(exc))
    st.stop()

st.subheader(labels[name])
st.write(f"Leads: {', '.join(summary['leads'])}; duration {summary['duration_s'] / 60:.1f} min")
st.write(f"Reference beats per AAMI class (lead {summary['lead']}):")
for column, (cls, count) in zip(st.columns(len(summary["counts"])), summary["counts"].items()):
    column.metric(cls, count)
if summary["comments"]:
    st.caption(" ".join(summary["comments"]))
