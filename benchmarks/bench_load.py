"""The app server under load (issue 11), bounded: loopback only, at most 8 browser sessions, every wait capped.

    .venv/bin/python -m benchmarks.bench_load

Starts ``streamlit run`` on 127.0.0.1 and drives Debian's chromium with Playwright (one browser, one context per
session, as tests/test_browser.py does). Rounds: 1, 4 and 8 sessions at once, each opening the app and then picking
its own MIT-BIH record, none picked before (no cache help); then one session walking through the 34 records left,
one after another (more than the app's caches hold: its memory should level off). Per session: seconds from picking the record to its labelled ECG drawn. The server's resident memory is
sampled every 50 ms: before, the peak during each round, and after each round (its sessions closed). Writes
benchmarks/results/load.md. Run it on an idle machine: the times are wall-clock on this 2-core CPU.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_browser import CHROMIUM, CHROMIUM_ARGS, ECG, RUNNING, serve_app  # noqa: E402

OUT = Path("benchmarks/results/load.md")
ROUNDS = {1: ["101"], 4: ["103", "105", "106", "107"], 8: ["108", "109", "111", "112", "113", "114", "115", "116"]}
MITDB = ["100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "111", "112", "113", "114", "115",
         "116", "117", "118", "119", "121", "122", "123", "124", "200", "201", "202", "203", "205", "207", "208",
         "209", "210", "212", "213", "214", "215", "217", "219", "220", "221", "222", "223", "228", "230", "231",
         "232", "233", "234"]
WALK = [r for r in MITDB if r != "100" and all(r not in v for v in ROUNDS.values())]  # the 34 records left
WAIT_MS = 180_000  # any one wait; the whole run is bounded by the rounds above


class ServerMemory:
    """Resident memory (MB) of the process serving ``port``, sampled in a thread."""

    def __init__(self, port: int):
        self.pid = next(int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and
                        f"--server.port\x00{port}\x00".encode() in _read(p / "cmdline"))
        self.peak, self._stop = 0.0, False
        threading.Thread(target=self._run, daemon=True).start()

    def now(self) -> float:
        for line in _read(Path(f"/proc/{self.pid}/status")).decode().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _run(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self.now())
            time.sleep(0.05)

    def reset_peak(self) -> None:
        self.peak = self.now()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


READY = """([name, sel, running]) => { const h = document.querySelector('[data-testid="stMain"] h3');
    const d = document.querySelectorAll(sel);
    return h && h.textContent.startsWith(name + ' - ') && d.length === 1
        && d[0].querySelectorAll('.scatterlayer .trace .textpoint text').length > 0
        && !document.querySelector(running) && !document.querySelector('[data-stale="true"]'); }"""


async def open_session(browser, url: str):
    page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
    await page.goto(url)
    await page.wait_for_function(READY, arg=["100", ECG, RUNNING], timeout=WAIT_MS, polling=200)
    return page


async def pick(page, name: str) -> float:
    """Pick record ``name``; seconds until its labelled ECG is drawn."""
    box = page.get_by_role("combobox", name="MIT-BIH Arrhythmia Database record")
    await box.click()
    await box.fill(name)
    await page.get_by_role("option").first.wait_for(timeout=WAIT_MS)
    t0 = time.perf_counter()
    await page.keyboard.press("Enter")
    await page.wait_for_function(READY, arg=[name, ECG, RUNNING], timeout=WAIT_MS, polling=200)
    return time.perf_counter() - t0


async def run(url: str, memory: ServerMemory) -> list[str]:
    from playwright.async_api import async_playwright

    lines = ["| round | sessions | seconds to labelled ECG (median, max) | server MB before | peak | after |",
             "| --- | ---: | --: | ---: | ---: | ---: |"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm = await open_session(browser, url)  # the model and record 100 loaded once, outside the rounds
        await warm.context.close()
        for n, records in ROUNDS.items():
            before = memory.now()
            memory.reset_peak()
            pages = await asyncio.gather(*(open_session(browser, url) for _ in records))
            times = await asyncio.gather(*(pick(pg, name) for pg, name in zip(pages, records)))
            peak = memory.peak
            for pg in pages:
                await pg.context.close()
            await asyncio.sleep(5)
            lines.append(f"| {n} at once | {n} | {statistics.median(times):.1f}, {max(times):.1f} | {before:.0f} | "
                         f"{peak:.0f} | {memory.now():.0f} |")
            print(lines[-1], flush=True)
        before = memory.now()
        memory.reset_peak()
        page = await open_session(browser, url)
        walk, after_each = [], []
        for name in WALK:
            walk.append(await pick(page, name))
            after_each.append(memory.now())
        peak = memory.peak
        await page.context.close()
        await asyncio.sleep(5)
        lines.append(f"| one session, {len(WALK)} records in turn | 1 | {statistics.median(walk):.1f}, {max(walk):.1f} | "
                     f"{before:.0f} | {peak:.0f} | {memory.now():.0f} |")
        print(lines[-1], flush=True)
        lines += ["", "Server memory after each record of the walk (MB): " + ", ".join(f"{m:.0f}" for m in after_each)]
        await browser.close()
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve_app(Path(tmp) / "streamlit.log") as url:
        memory = ServerMemory(int(url.rsplit(":", 1)[1]))
        t0 = time.perf_counter()
        lines = asyncio.run(run(url, memory))
        memory._stop = True
    text = "\n".join(["# The app server under load", "", "`.venv/bin/python -m benchmarks.bench_load` (loopback, "
                      "chromium via Playwright, this 2-core CPU shared by the server and every browser; "
                      f"whole run {time.perf_counter() - t0:.0f} s)", "", *lines, ""])
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
