"""End to end in a real browser: the Streamlit app served by ``streamlit run`` and driven by Playwright.

Playwright drives Debian's chromium (``/usr/bin/chromium``); no browser is downloaded. Without chromium or
the ``playwright`` package the test is skipped on a developer machine, and fails when ``$CI`` is set (CI
must never skip it silently; ``.ci/run`` installs chromium when it is missing).

One test walks what a user does: open the app (record 100 labelled), pick record 119, look at 203 (atrial
fibrillation), 107 (paced: a warning) and 105 (noisy: its unreadable stretches, one moved into view on the
strip), back on 119 jump to the next V beat and read its explanation, click a beat on the strip and an event
of the rhythm report (each selects a beat), relabel a template and adapt the model (then undo), upload 60 s of
119 as CSV (beats detected), upload a corrupt CSV (a clear error, no crash), go back to a MIT-BIH record.
Screenshots go to ``test-output/browser/``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from ecgapp.aami import AAMI_CLASSES, aami_index, is_beat
from ecgapp.mitdb import load_record

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as exc:  # checked in the fixture below (skip locally, fail in CI)
    PLAYWRIGHT_IMPORT_ERROR: ImportError | None = exc
else:
    PLAYWRIGHT_IMPORT_ERROR = None

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STARTUP_S = 60  # the server must answer /_stcore/health within this
TIMEOUT_MS = 60_000  # any single wait in the page
VIEWPORT = {"width": 1400, "height": 1000}

# CSS: Streamlit gives a keyed element the class st-key-<key>; Plotly draws class letters as SVG text.
ECG = ".st-key-ecg_chart .js-plotly-plot"
LETTERS = ".scatterlayer .trace .textpoint text"
RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str):
    """Skip on a developer machine; fail in CI, where this test must always run."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: the browser test must run in CI, see .ci/run)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------- the server and the browser
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


@contextmanager
def serve_app(log: Path):
    """``streamlit run streamlit_app.py`` on a free local port (127.0.0.1); yields its URL once it answers,
    stops it (killed if need be) afterwards. Raises RuntimeError when it does not start."""
    port = free_port()
    env = dict(os.environ, ECGAPP_OFFLINE="1",  # ECGAPP_DATA_DIR passes through when set
               STREAMLIT_SERVER_FILE_WATCHER_TYPE="none")  # no reruns or polling if sources change meanwhile
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", APP, "--server.address", "127.0.0.1", "--server.port",
             str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"streamlit exited with {server.returncode} before serving:\n{log_tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer {url}/_stcore/health within {STARTUP_S} s:\n"
                                   f"{log_tail(log)}")
            time.sleep(0.25)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def app_url():
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with serve_app(SHOTS / "streamlit.log") as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def page(request):
    """A chromium page on the app, every wait bounded; requests that leave the app's server are refused."""
    if PLAYWRIGHT_IMPORT_ERROR is not None:
        unavailable(f"playwright is not importable ({PLAYWRIGHT_IMPORT_ERROR}); "
                    f"install it with .venv/bin/pip install -r requirements-dev.txt")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    app_url = request.getfixturevalue("app_url")  # the server starts only once the browser can run
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)  # expect() waits 5 s by default; the first run takes longer
            context.route(re.compile(r"^(?!" + re.escape(app_url) + r"/)(https?|wss?)://"), lambda r: r.abort())
            pg = context.new_page()
            pg.page_errors = []  # uncaught JavaScript exceptions in the app's page
            pg.on("pageerror", lambda e: pg.page_errors.append(str(e)))
            pg.goto(app_url)
            yield pg
        finally:
            browser.close()


# ---------------------------------------------------------------- helpers
def wait_idle(pg) -> None:
    """Wait until Streamlit has finished the current run: no running icon, no stale element (elements of
    the previous run are marked data-stale while a run is going) and every chart drawn exactly once (a
    redrawn chart briefly has its old and new plot side by side). Checked twice: a rerun may start a moment
    after the interaction that triggers it."""
    idle = """() => !document.querySelector('%s') && !document.querySelector('[data-stale="true"]')
        && !document.querySelector('[data-testid="stSpinner"]')
        && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
               .every(c => c.querySelectorAll('.js-plotly-plot').length === 1)""" % RUNNING
    for _ in range(2):
        pg.wait_for_function(idle, timeout=TIMEOUT_MS, polling=100)
        pg.wait_for_timeout(300)
    pg.wait_for_function(idle, timeout=TIMEOUT_MS, polling=100)


def expect_chart(pg, selector: str) -> None:
    """Exactly one Plotly chart matches ``selector`` (after the transient doubling of a redraw), shown."""
    expect(pg.locator(selector)).to_have_count(1)
    expect(pg.locator(selector)).to_be_visible()


def shot(pg, name: str, full_page: bool = False) -> None:
    """Screenshot once the app is idle, then check that the run raised no exception (if it did, a full-page
    screenshot ``FAILED_<name>`` shows the traceback)."""
    pg.mouse.move(0, 0)  # no hover tooltip from the last click in the picture
    wait_idle(pg)
    screenshot(pg, name, full_page)
    exceptions = pg.locator('[data-testid="stException"]')
    if exceptions.count():
        screenshot(pg, f"FAILED_{name}", full_page=True)
        pytest.fail(f"after {name}: the app raised {exceptions.all_inner_texts()}", pytrace=False)


def screenshot(pg, name: str, full_page: bool = False) -> None:
    """Streamlit scrolls inside <main>, not the window, so a full page is taken by making the viewport as
    tall as <main>'s content for a moment."""
    if not full_page:
        pg.screenshot(path=SHOTS / name)
        return
    height = pg.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0")
    pg.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height) + 20)})
    try:
        pg.wait_for_timeout(500)  # charts re-lay out after the resize
        wait_idle(pg)
        pg.screenshot(path=SHOTS / name)
    finally:
        pg.set_viewport_size(VIEWPORT)


def wait_for_letters(pg, letter: str, more_than: int) -> list[str]:
    """Wait until the (one) ECG chart draws more than ``more_than`` beat labels ``letter``; all its labels."""
    handle = pg.wait_for_function(
        """([sel, letters, letter, n]) => { const d = document.querySelectorAll(sel);
            if (d.length !== 1) return false;
            const all = Array.from(d[0].querySelectorAll(letters)).map(t => t.textContent);
            return all.filter(t => t === letter).length > n ? all : false; }""",
        arg=[ECG, LETTERS, letter, more_than], timeout=TIMEOUT_MS, polling=100)
    return handle.json_value()


def ecg_traces(pg) -> dict[str, int]:
    """Number of points per named trace of the drawn ECG figure (Plotly's full data, typed arrays decoded)."""
    return pg.evaluate("sel => Object.fromEntries(document.querySelector(sel)._fullData"
                       ".map(t => [t.name, t._length || 0]))", ECG)


def metric(pg, label: str):
    return pg.locator('[data-testid="stMetric"]').filter(
        has=pg.locator('[data-testid="stMetricLabel"]', has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))


def pick_record(pg, record_box, subheader, name: str, header: str) -> None:
    """Type a MIT-BIH record name in the sidebar box, take the first match, wait for its subheader."""
    record_box.click()
    record_box.fill(name)
    expect(pg.get_by_role("option").first).to_have_text(re.compile(rf"^{name} - "))
    pg.keyboard.press("Enter")
    expect(subheader).to_have_text(re.compile(header))


def pick_source(pg, option: str) -> None:
    pg.locator(".st-key-kind").get_by_text(option, exact=True).click()


def check_same_record(pg, subheader, record_box) -> None:
    """The record the page shows is the one the sidebar's record box names."""
    wait_idle(pg)
    shown, chosen = subheader.inner_text(), record_box.input_value()
    assert shown == chosen, f"back on MIT-BIH records the page shows {shown!r} but the sidebar says {chosen!r}"


def click_centre(pg, locator) -> None:
    """A mouse click at the middle of ``locator``'s element, scrolled to the middle of the viewport first
    (clear of Streamlit's sticky header). Playwright's own click refuses chart elements: Plotly's drag layer
    lies over them and takes the click, which is what the app listens to."""
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")
    box = locator.bounding_box()
    assert box, f"{locator} has no box on the page"
    pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def slider_value(pg, key: str) -> float:
    """The value a Streamlit slider shows over its thumb."""
    return float(pg.locator(f".st-key-{key}").get_by_test_id("stSliderThumbValue").inner_text())


def set_slider(pg, key: str, value: float) -> None:
    """Move a Streamlit slider to about ``value`` by clicking its track there, as a user does (the click commits
    the value and reruns the app; filling its hidden range input only moves the thumb: no rerun)."""
    box = pg.locator(f".st-key-{key}")
    box.evaluate("e => e.scrollIntoView({block: 'center'})")
    thumb = box.locator("input[type=range]")
    lo, hi = float(thumb.get_attribute("min")), float(thumb.get_attribute("max"))
    track = box.get_by_test_id("stSliderTickBar").locator("xpath=..")  # the thumb's track holds the tick bar
    t = track.bounding_box()
    pg.mouse.click(t["x"] + (value - lo) / (hi - lo) * t["width"], t["y"] + 10)
    wait_idle(pg)


def letter_beat(letter) -> int:
    """The beat number (customdata[0]) of a class letter drawn on the ECG strip (an SVG ``.textpoint``)."""
    return letter.evaluate("e => Number(e.parentNode.parentNode.__data__[0].trace.customdata[e.__data__.i][0])")


def first_v_beat(name: str) -> int:
    """1-based number of the first beat whose reference label is V."""
    ann = load_record(name).annotations
    labels = aami_index(ann.symbol[is_beat(ann.symbol)])
    return int(np.flatnonzero(labels == AAMI_CLASSES.index("V"))[0]) + 1


def csv_of_record(path: Path, name: str, lead: str, seconds: float) -> int:
    """Write the first ``seconds`` of a MIT-BIH lead as CSV (time_s in seconds); its reference beat count."""
    rec = load_record(name)
    n = int(seconds * rec.fs)
    x = rec.lead_signal(lead)[:n]
    t = np.arange(n) / rec.fs
    np.savetxt(path, np.column_stack([t, x]), delimiter=",", fmt=["%.6f", "%.4f"], header=f"time_s,{lead}",
               comments="")
    ann = rec.annotations
    return int((is_beat(ann.symbol) & (ann.sample < n)).sum())


# ---------------------------------------------------------------- the test
def test_app_in_a_browser(page, tmp_path):
    for old in SHOTS.glob("*.png"):  # screenshots of an earlier run would mislead
        old.unlink()
    try:
        walk_through_the_app(page, tmp_path)
    except BaseException:
        try:
            screenshot(page, "failure.png", full_page=True)  # the page as it was when the test failed
        except Exception:  # noqa: BLE001 - the original failure matters, not this one
            pass
        raise


def walk_through_the_app(pg, tmp_path):
    sidebar = pg.locator('[data-testid="stSidebar"]')
    record_box = pg.get_by_role("combobox", name="MIT-BIH Arrhythmia Database record")
    subheader = pg.locator('[data-testid="stMain"] h3').first
    no_crash = pg.locator('[data-testid="stException"]')

    # 1. The default view: MIT-BIH record 100, its first 10 s with every beat labelled.
    expect_chart(pg, ECG)
    expect(pg.locator(".st-key-kind").get_by_role("radio", name="MIT-BIH record")).to_be_checked()
    expect(record_box).to_have_value(re.compile(r"^100 - "))
    expect(subheader).to_have_text(re.compile(r"^100 - 69 y M"))
    letters = wait_for_letters(pg, "N", 5)
    assert set(letters) <= set(AAMI_CLASSES), letters
    wait_idle(pg)
    traces = ecg_traces(pg)
    assert traces["N"] > 5 and max(traces.values()) > 1000, traces  # the beats, and the ECG line itself
    shot(pg, "01_record_100.png")

    # 2. Another record from the sidebar: 119, with its known ventricular burden.
    pick_record(pg, record_box, subheader, "119", r"^119 - 51 y F")
    expect(metric(pg, "V burden")).to_contain_text("22.3%")
    letters = wait_for_letters(pg, "V", 0)
    assert letters.count("N") > 5, letters
    shot(pg, "02_record_119.png")

    # 2b. Record 203 (atrial fibrillation throughout): the page says so and calls almost no beat S.
    pick_record(pg, record_box, subheader, "203", r"^203 - ")
    expect(pg.get_by_text(re.compile(r"Irregularly irregular RR intervals in \d+% of beats"))).to_be_visible()
    shot(pg, "02b_record_203_af.png")

    # 2c. Record 107 is paced: the page warns that the model's labels mean nothing there.
    pick_record(pg, record_box, subheader, "107", r"^107 - ")
    expect(pg.get_by_text(re.compile(r"^Record 107 is paced"))).to_be_visible()
    shot(pg, "02c_record_107_paced.png")

    # 2d. Record 105 (noisy): the quality check finds unreadable stretches; moved into one (about 1190-1350 s),
    # the strip shades it grey and says its beats are labelled Q.
    pick_record(pg, record_box, subheader, "105", r"^105 - ")
    expect(pg.get_by_text(re.compile(r"^Record \d+ is paced"))).to_have_count(0)
    unreadable = pg.locator('[data-testid="stAlert"]').filter(has_text="look unreadable")
    expect(unreadable).to_have_count(1)
    expect(unreadable).to_be_visible()
    expect(unreadable).to_contain_text(re.compile(r"\d+ beat\(s\) are labelled Q"))
    wait_idle(pg)
    assert slider_value(pg, "view_start") == 0.0  # a new record starts at 0 s
    band_note = pg.locator(f"{ECG} g.annotation text").filter(has_text="unreadable: beats labelled Q")
    expect(band_note).to_have_count(0)  # 105's first 10 s read well
    set_slider(pg, "view_start", 1195.0)
    start = slider_value(pg, "view_start")
    assert 1190.0 <= start <= 1210.0, f"'start (s)' shows {start} after a click on its track at 1195 s"
    x0 = pg.evaluate("sel => document.querySelector(sel)._fullLayout.xaxis.range[1]", ECG) - 10.0  # 10 s drawn
    assert abs(x0 - start) < 0.05, f"the strip starts at {x0} s, the slider says {start}"
    expect(band_note.first).to_be_visible()
    assert "Q" in wait_for_letters(pg, "Q", 0)  # the beats under the grey band are labelled Q
    pg.locator(ECG).evaluate("e => e.scrollIntoView({block: 'center'})")  # the slider and the strip in view
    shot(pg, "02d_record_105_unreadable.png")

    pick_record(pg, record_box, subheader, "119", r"^119 - 51 y F")
    wait_idle(pg)

    # 3. "V ▶" selects the next ventricular beat; the explanation says why it is V.
    wait_idle(pg)
    expect(pg.get_by_label("beat #")).to_have_value("")  # no beat explained until one is picked
    expect(pg.get_by_text("Pick a beat to see why")).to_be_visible()
    pg.get_by_role("button", name="V ▶", exact=True).click()
    expected_beat = first_v_beat("119")
    expect(pg.get_by_label("beat #")).to_have_value(str(expected_beat))
    expect(pg.get_by_text(re.compile(rf"^Beat {expected_beat} at [0-9.]+ s: V \(ventricular"))).to_be_visible()
    reading = pg.get_by_text("The model labels this beat V")
    expect(reading).to_be_visible()
    expect(reading.locator("strong")).to_have_text("V")  # **V** rendered bold, not as asterisks
    expect_chart(pg, ".st-key-explanation_chart .js-plotly-plot")
    shot(pg, "03_explanation.png", full_page=True)
    shown = pg.get_by_role("combobox", name="explain class").input_value()
    named = re.fullmatch(r"predicted \((\w)\)", shown)  # "predicted (<label>)": this beat's label, not an earlier one's
    assert not named or named[1] == "V", f"'explain class' shows {shown!r} for beat {expected_beat}, labelled V"

    # 3a. A click on a beat's letter on the strip selects that beat (its number is the point's customdata[0]).
    wait_idle(pg)
    beat_box = pg.get_by_label("beat #")
    letters = pg.locator(f"{ECG} .scatterlayer .trace .textpoint")
    assert letters.count() > 5, letters.count()
    letter = next(letters.nth(i) for i in range(letters.count() // 2, letters.count())
                  if letter_beat(letters.nth(i)) != expected_beat)  # a beat other than the one explained
    clicked = letter_beat(letter)
    click_centre(pg, letter)
    wait_idle(pg)
    expect(beat_box).to_have_value(str(clicked))
    expect(pg.get_by_text(re.compile(rf"^Beat {clicked} at [0-9.]+ s: [NSVFQ] \("))).to_be_visible()
    shot(pg, "03a_beat_clicked_on_strip.png", full_page=True)  # the strip and the explanation

    # 3a2. A row of the rhythm report's events table selects the event's first ectopic beat (and moves the strip
    # to it): for a bigeminy episode (N V N V ...) the beat after its first.
    events = pg.locator(".st-key-events_table")
    expect(events).to_be_visible()
    first_event = events.get_by_test_id("glide-cell-1-0")  # glide-data-grid's accessible copy of the canvas
    expect(first_event).to_have_text(re.compile(r"^ventricular (bigeminy|trigeminy|couplet|triplet|run)|^pause"))
    event_start = float(events.get_by_test_id("glide-cell-2-0").text_content())
    event_name = events.get_by_test_id("glide-cell-1-0").text_content()
    grid = events.locator("canvas").first  # the grid is drawn on a canvas: click the first row's selection box
    grid.evaluate("e => e.scrollIntoView({block: 'center'})")
    g = grid.bounding_box()
    pg.mouse.click(g["x"] + 15, g["y"] + 35 + 35 / 2)  # the row-marker column; header and rows 35 px high
    wait_idle(pg)
    expect(beat_box).not_to_have_value(str(clicked))
    expect(beat_box).to_have_value(re.compile(r"^\d+$"))
    first_beat = int(beat_box.input_value())
    explained = pg.get_by_text(re.compile(rf"^Beat {first_beat} at [0-9.]+ s: "))
    expect(explained).to_be_visible()
    beat_time = float(re.match(r"^Beat \d+ at ([0-9.]+) s", explained.inner_text())[1])
    if "bigeminy" in event_name or "trigeminy" in event_name:  # the first V, one or two beats in: within 3 s
        assert 0.2 < beat_time - event_start < 3.0, f"{event_name} at {event_start} s selected the beat at {beat_time} s"
        expect(pg.get_by_text(re.compile(rf"^Beat {first_beat} at [0-9.]+ s: V \("))).to_be_visible()
    else:
        assert abs(beat_time - event_start) < 0.01, f"event at {event_start} s selected beat {first_beat} at {beat_time} s"
    start = slider_value(pg, "view_start")
    assert start <= beat_time <= start + 10, f"beat at {beat_time} s selected but the strip shows {start}-{start + 10} s"
    shot(pg, "03a_event_from_rhythm_report.png")

    # 3b. Review by template: 119's largest V template relabelled N (the burden falls), then the model adapts.
    expect_chart(pg, ".st-key-template_0 .js-plotly-plot")
    for key, text, option in (("review_template", "mostly V", r"^T\d+: [\d,]{3,} beats.*mostly V"),  # hundreds
                              ("template_label", "N", r"^N$")):
        box = pg.locator(f".st-key-{key}").get_by_role("combobox")
        box.click()
        box.fill(text)
        pg.get_by_role("option", name=re.compile(option)).first.click()
        wait_idle(pg)
    pg.get_by_role("button", name="relabel template", exact=True).click()
    expect(pg.get_by_text(re.compile(r"beat\(s\) relabelled N"))).to_be_visible()
    expect(metric(pg, "V burden")).not_to_contain_text("22.3%")
    pg.locator(".st-key-review_adapt").get_by_role("button").scroll_into_view_if_needed()
    shot(pg, "03b_review_relabelled.png")
    pg.locator(".st-key-review_adapt").get_by_role("button").click()
    expect(pg.get_by_text(re.compile(r"^adapted to your"))).to_be_visible()
    expect(pg.get_by_role("button", name=re.compile(r"^adapted model"))).to_be_visible()
    shot(pg, "03c_review_adapted.png", full_page=True)
    pg.locator(".st-key-review_undo").get_by_role("button").click()  # the adaptation, then the relabel
    expect(pg.get_by_text("undone")).to_be_visible()
    wait_idle(pg)
    pg.locator(".st-key-review_undo").get_by_role("button").click()
    expect(metric(pg, "V burden")).to_contain_text("22.3%")

    # 4. A look at "Upload a file" and back: the sidebar and the page still name the same record.
    pick_source(pg, "Upload a file")
    expect(pg.get_by_text("Upload an ECG in the sidebar")).to_be_visible()
    pick_source(pg, "MIT-BIH record")
    expect_chart(pg, ECG)
    check_same_record(pg, subheader, record_box)

    # Upload 60 s of record 119 as CSV: no annotations, so the beats are detected.
    csv = tmp_path / "rec119_60s.csv"
    reference_beats = csv_of_record(csv, "119", "MLII", 60.0)
    pick_source(pg, "Upload a file")
    expect(pg.get_by_text("Upload an ECG in the sidebar")).to_be_visible()
    expect(pg.locator(ECG)).to_have_count(0)
    uploader = pg.locator('[data-testid="stFileUploader"]').filter(has_text="ECG files")
    uploader.locator("input[type=file]").set_input_files(csv)
    expect(subheader).to_have_text("rec119_60s")
    expect_chart(pg, ECG)
    expect(sidebar.get_by_text("No annotation file: beats are detected.")).to_be_visible()
    beats = metric(pg, "beats").locator('[data-testid="stMetricValue"]')
    expect(beats).to_have_text(re.compile(r"^\d+$"))
    detected = int(beats.inner_text())  # 119's tall T waves cost the detector a few false beats
    assert reference_beats <= detected <= reference_beats + 4, (detected, reference_beats)
    letters = wait_for_letters(pg, "N", 3)
    assert "V" in letters, letters  # 119's bigeminy starts in the first 10 s
    shot(pg, "04_upload_csv.png")

    # 5. A corrupt CSV instead: a clear error naming the file, no crash; then back to a MIT-BIH record.
    uploader.get_by_role("button", name="Remove rec119_60s.csv").click()
    expect(pg.get_by_text("Upload an ECG in the sidebar")).to_be_visible()
    broken = tmp_path / "broken.csv"
    broken.write_text("time_s,MLII\n0,0.1\n0.0027778,abc\n0.0055556,0.2\n0.0083333,0.3\n")
    uploader.locator("input[type=file]").set_input_files(broken)
    error = pg.locator('[data-testid="stAlertContentError"]')
    expect(error).to_have_count(1)
    expect(error).to_contain_text("broken.csv")
    expect(error).to_contain_text("line 3")
    expect(pg.locator(ECG)).to_have_count(0)
    wait_idle(pg)
    expect(no_crash).to_have_count(0)
    shot(pg, "05a_upload_error.png")
    pick_source(pg, "MIT-BIH record")
    expect_chart(pg, ECG)
    expect(error).to_have_count(0)
    expect(subheader).to_have_text(re.compile(r"^\d{3} - \d+ y [MF]"))
    wait_for_letters(pg, "N", 5)
    expect(metric(pg, "V burden")).to_be_visible()
    shot(pg, "05_error_then_recovered.png")
    check_same_record(pg, subheader, record_box)
    assert not pg.page_errors, pg.page_errors
