"""A 24-hour recording end to end: time per step and peak memory (issues 11 and 12).

    .venv/bin/python -m benchmarks.bench_holter

Makes, in a temporary folder, (1) a 24-hour 2-lead WFDB record at 360 Hz (all 48 MIT-BIH records joined, format
212, 94 MB) and (2) a 24-hour single-lead CSV at 360 Hz (record 100's MLII repeated, 10 uV steps, 177 MB). Each is
classified with detected beats in a fresh process, the way its users run it: the WFDB record by the CLI
(``python -m ecgapp classify h24 --beats detect``), the CSV by the app's path (``uploads.load_upload`` of the
uploaded bytes, then ``analysis.analyse``). The steps are timed through analyse's progress callback; peak
resident memory (sampled every 5 ms, including about 350 MB of Python, torch and the model) is taken per step.
Writes benchmarks/results/holter.md. Run it on an idle machine: the times are wall-clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

OUT = Path("benchmarks/results/holter.md")

CHILD = r"""
import json, sys, threading, time
from pathlib import Path
peak, since = [0], [0]
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
def sample():
    while True:
        r = rss(); peak[0] = max(peak[0], r); since[0] = max(since[0], r); time.sleep(0.005)
threading.Thread(target=sample, daemon=True).start()
steps, last = [], [time.perf_counter(), "start"]
def step(name):
    now = time.perf_counter()
    steps.append((last[1], now - last[0], since[0])); last[0], last[1] = now, name; since[0] = rss()
t0 = time.perf_counter()
import ecgapp.analysis as analysis
real = analysis.analyse
def timed(*a, progress=None, **k):
    seen = [None]
    def report(done, what):
        if what != seen[0]:
            seen[0] = what; step("after analyse: CSV written, summary" if what == "done" else what)
        if progress: progress(done, what)
    return real(*a, progress=report, **k)
analysis.analyse = timed
step("python, torch and the model")
kind, path = sys.argv[1], sys.argv[2]
if kind == "cli":
    from ecgapp.__main__ import main
    last[1] = "CLI: load the model, read the record"
    rc = main(["classify", path, "--beats", "detect", "--out", str(Path(path).parent / "h24_beats.csv")])
    assert rc == 0, rc
else:
    from ecgapp.model import load_model
    from ecgapp.uploads import load_upload
    model, _ = load_model("weights/hybrid.pt")
    step("read the upload (load_upload)")
    rec = load_upload([(Path(path).name, Path(path).read_bytes())], fs=360)
    step("...")
    a = analysis.analyse(model, rec, source="detected")
step("end")
print("RESULT" + json.dumps({"steps": steps, "wall": time.perf_counter() - t0, "peak": peak[0]}))
"""


def make_files(folder: Path) -> tuple[Path, Path]:
    import wfdb

    from ecgapp.mitdb import MITDB_RECORDS, load_record

    leads = [load_record(name).signal[:, :2] for name in MITDB_RECORDS]
    joined = np.concatenate(leads)[: 360 * 86400]
    wfdb.wrsamp("h24", fs=360, units=["mV", "mV"], sig_name=["lead 1", "lead 2"], p_signal=joined.astype(np.float64),
                fmt=["212", "212"], adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(folder))
    x = load_record("100").signal[:, 0]
    sig = np.tile(x, 48)[: 360 * 86400]
    csv = folder / "h24.csv"
    with open(csv, "w") as f:
        f.write("MLII (mV)\n")
        for k in range(0, sig.size, 1_000_000):
            f.write("\n".join(f"{v:.2f}" for v in sig[k: k + 1_000_000]) + "\n")
    return folder / "h24", csv


def run(kind: str, path: Path) -> dict:
    env = os.environ | {"PYTHONPATH": str(Path.cwd())}
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, env=env)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    if out.returncode or not line:
        raise SystemExit(f"{kind} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return json.loads(line[0][len("RESULT"):])


def main() -> None:
    lines = ["# A 24-hour recording end to end", "", "`.venv/bin/python -m benchmarks.bench_holter` (fresh process "
             "per input; wall-clock seconds on this 2-core CPU; peak resident memory per step, including about "
             "350 MB of Python, torch and the model)", ""]
    with tempfile.TemporaryDirectory() as tmp:
        # the files are made in a child process, so that this one stays small
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from benchmarks.bench_holter "
                        "import make_files; make_files(Path(sys.argv[1]))", tmp], check=True)
        for kind, path, title in (("cli", Path(tmp) / "h24", "2-lead WFDB record, 94 MB (format 212), "
                                   "`python -m ecgapp classify h24 --beats detect`"),
                                  ("app", Path(tmp) / "h24.csv", "single-lead CSV, 177 MB, the app's path "
                                   "(`load_upload`, then `analyse` with detected beats)")):
            r = run(kind, path)
            lines += [f"## 24 h {title}", "", "| step | seconds | peak MB |", "| --- | ---: | ---: |"]
            for name, seconds, peak in r["steps"]:
                if name not in ("start", "...", "end"):
                    lines.append(f"| {name} | {seconds:.1f} | {peak / 2**20:.0f} |")
            lines += [f"| **whole run** | **{r['wall']:.1f}** | **{r['peak'] / 2**20:.0f}** |", ""]
            print("\n".join(lines[-(len(r['steps']) + 3):]), flush=True)
    OUT.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
