"""Speed of the app as a user sees it: from picking a record in the browser to its labelled ECG drawn.

Run from the project root: .venv/bin/python -m benchmarks.bench_app_browser
Starts ``streamlit run`` on 127.0.0.1, drives Debian's chromium with Playwright (as tests/test_browser.py
does), and times the first page of the fresh server (until the record picker shows, and until the first
labelled ECG), then for each 30-minute record: pick it in the sidebar -> the page names it, every chart is drawn
and the app is idle, the first time and when returning to it (cached). Appends to
benchmarks/results/app_speed.txt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_browser import CHROMIUM, CHROMIUM_ARGS, ECG, RUNNING, serve_app, wait_idle  # noqa: E402

RESULTS = Path("benchmarks/results/app_speed.txt")


def pick(pg, name: str) -> float:
    """Pick record ``name`` and wait until its labelled ECG is drawn; seconds from the Enter key."""
    box = pg.get_by_role("combobox", name="MIT-BIH Arrhythmia Database record")
    box.click()
    box.fill(name)
    pg.get_by_role("option").first.wait_for()
    t0 = time.perf_counter()
    pg.keyboard.press("Enter")
    pg.wait_for_function(  # the new record named, its run finished, every chart drawn once, with beat letters
        """([name, sel, running]) => { const h = document.querySelector('[data-testid="stMain"] h3');
            const d = document.querySelectorAll(sel);
            return h && h.textContent.startsWith(name + ' - ') && d.length === 1
                && d[0].querySelectorAll('.scatterlayer .trace .textpoint text').length > 0
                && !document.querySelector(running) && !document.querySelector('[data-stale="true"]')
                && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                       .every(c => c.querySelectorAll('.js-plotly-plot').length === 1); }""",
        arg=[name, ECG, RUNNING], timeout=60_000, polling="raf")
    elapsed = time.perf_counter() - t0
    wait_idle(pg)  # make sure nothing else is still coming before the next pick
    return elapsed


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", nargs="+", default=["233", "208", "119"])
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp, serve_app(Path(tmp) / "streamlit.log") as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        t0 = time.perf_counter()
        pg.goto(url)  # a fresh server: nothing imported or cached yet
        pg.get_by_role("combobox", name="MIT-BIH Arrhythmia Database record").wait_for()
        pg.get_by_text("Research demo, not a medical device").wait_for()
        picker = time.perf_counter() - t0
        pg.locator(ECG).wait_for()
        wait_idle(pg)
        lines.append(f"browser: cold server, first page: title, notice and record picker shown {picker:.2f} s; "
                     f"labelled ECG of record 100 (imports, model load, analysis) {time.perf_counter() - t0:.2f} s")
        first, again = [], []
        for name in args.records:
            first.append(pick(pg, name))
            pick(pg, "100")
            again.append(pick(pg, name))
            lines.append(f"browser: record {name}: first time {first[-1]:.2f} s, returning (cached) {again[-1]:.2f} s")
        lines.append(f"browser: median first time {statistics.median(first):.2f} s, "
                     f"returning {statistics.median(again):.2f} s")
        browser.close()
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = RESULTS.read_text() if RESULTS.exists() else ""
    RESULTS.write_text("".join(l + "\n" for l in old.splitlines() if not l.startswith("browser:")) + text)


if __name__ == "__main__":
    main()
