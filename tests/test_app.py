"""The Streamlit app runs (placeholder until the app issue): pick a record, see its facts and counts."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def test_app_shows_a_record():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert at.sidebar.selectbox[0].value == "100"
    at.sidebar.selectbox[0].select("119").run()
    assert not at.exception
    assert at.subheader[0].value.startswith("119 - 51 y F")
    counts = {m.label: m.value for m in at.metric}
    assert counts == {"N": "1543", "S": "0", "V": "444", "F": "0", "Q": "0"}
    assert "lead MLII" in " ".join(m.value for m in at.markdown)
