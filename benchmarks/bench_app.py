"""Speed of the Streamlit app on this CPU, measured by running the real script with Streamlit's AppTest.

Run from the project root: .venv/bin/python -m benchmarks.bench_app
Prints, for several 30-minute MIT-BIH records: the time of the script run that follows picking the record
for the first time (load, filter, cut and classify every beat, build the ECG, overview and explanation
figures, prepare the downloads) and when returning to it (cached), plus one beat's Integrated Gradients
explanation (median over beats) and the model load. The browser's own drawing time is not included.
Writes the output to benchmarks/results/app_speed.txt (keeping the lines of bench_app_browser).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
RESULTS = Path("benchmarks/results/app_speed.txt")


def timed_run(at) -> float:
    t = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", nargs="+", default=["233", "208", "119"])
    parser.add_argument("--beats", type=int, default=30, help="beats to explain for the IG timing")
    args = parser.parse_args()
    out = io.StringIO()
    with redirect_stdout(out):
        run(args)
    print(out.getvalue(), end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    browser = [line + "\n" for line in (RESULTS.read_text().splitlines() if RESULTS.exists() else [])
               if line.startswith("browser:")]  # kept: written by bench_app_browser
    RESULTS.write_text(out.getvalue() + "".join(browser))


def run(args) -> None:
    import torch
    from streamlit.testing.v1 import AppTest

    from ecgapp import load_record
    from ecgapp.analysis import analyse
    from ecgapp.explain import explain_beat
    from ecgapp.model import load_model

    print(f"torch threads {torch.get_num_threads()}")
    at = AppTest.from_file(APP, default_timeout=300)
    first = timed_run(at)
    print(f"app start (imports, model load, record 100 shown): {first:.2f} s")
    first_times, again_times = [], []
    for name in args.records:
        at.selectbox(key="mitdb_name").select(name)
        first_times.append(timed_run(at))
        at.selectbox(key="mitdb_name").select("100")
        timed_run(at)
        at.selectbox(key="mitdb_name").select(name)
        again_times.append(timed_run(at))
        beats = at.metric[0].value
        print(f"record {name} ({beats} beats, 30 min): first time {first_times[-1]:.2f} s, "
              f"returning (cached) {again_times[-1]:.2f} s")
    print(f"median: first time {statistics.median(first_times):.2f} s, returning {statistics.median(again_times):.2f} s")

    t = time.perf_counter()
    model, _ = load_model("weights/hybrid", device="cpu")
    print(f"model load: {time.perf_counter() - t:.3f} s (once per server process: st.cache_resource)")
    a = analyse(model, load_record("208"))
    explain_beat(model, a.waves, a.rr, 0)  # first call imports Captum
    rng = np.random.default_rng(0)
    for method in ("Integrated Gradients", "Saliency", "Occlusion"):
        times = []
        for i in rng.choice(len(a.waves), size=args.beats, replace=False):
            t = time.perf_counter()
            explain_beat(model, a.waves, a.rr, int(i), method=method)
            times.append(time.perf_counter() - t)
        print(f"{method}, one beat (record 208, median of {args.beats}): {1000 * statistics.median(times):.1f} ms "
              f"(max {1000 * max(times):.1f} ms)")


if __name__ == "__main__":
    main()
