"""Time and peak memory of reading large uploads (issue 12: within 30 s and about 4x the file's size).

    .venv/bin/python -m benchmarks.bench_reader_memory

Writes, in a temporary folder, a 24-hour single-lead CSV at 360 Hz (record 100's MLII repeated, 10 uV steps),
a CSV of 95 million zeros (190 MB), one line of 2.5 million cells and a CSV with 10,000 columns; each is read
in a fresh process by ``uploads.load_upload`` (the app's path: the bytes in memory, copied to a temporary
folder, read) and by ``csvfile.read_csv``. Peak resident memory includes Python, numpy and pandas
(about 170 MB). Writes benchmarks/results/reader_memory.md.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

OUT = Path("benchmarks/results/reader_memory.md")
READERS = {
    "read_csv": "from ecgapp.csvfile import read_csv as f; call = lambda p: f(p, fs=360)",
    "load_upload": "from ecgapp.uploads import load_upload as f; from pathlib import Path; "
                   "call = lambda p: f([(Path(p).name, Path(p).read_bytes())], fs=360)",
}
CHILD = """
import resource, sys, time
{reader}
from ecgapp.errors import InputError
t = time.perf_counter()
try:
    r = call(sys.argv[1]); outcome = f"{{r.n_samples:,}} samples"
except InputError as e:
    outcome = "InputError: " + str(e)[:90]
print(f"{{time.perf_counter() - t:.1f}}|{{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}}|{{outcome}}")
"""


def make_files(folder: Path, names_only: bool = False) -> dict[str, Path]:
    files = {"24 h single lead, 360 Hz": folder / "h24.csv", "95 M zeros": folder / "zeros.csv",
             "one line, 2.5 M cells": folder / "line.txt", "10,000 columns": folder / "wide.csv"}
    if names_only:
        return files
    from ecgapp.mitdb import load_record

    x = load_record("100").signal[:, 0]
    sig = np.tile(x, 48)[: 360 * 86400]
    with open(files["24 h single lead, 360 Hz"], "w") as f:
        f.write("MLII (mV)\n")
        for k in range(0, sig.size, 1_000_000):
            f.write("\n".join(f"{v:.2f}" for v in sig[k: k + 1_000_000]) + "\n")
    files["95 M zeros"].write_text("0\n" * 95_000_000)
    files["one line, 2.5 M cells"].write_text(",".join(["0.1"] * 2_500_000))
    files["10,000 columns"].write_text(",".join(f"c{i}" for i in range(10_000)) + "\n" +
                                       ("0.1," * 9_999 + "0.1\n") * 3600)
    return files


def main() -> None:
    lines = ["# Reading large uploads: time and peak memory", "", "`.venv/bin/python -m benchmarks.bench_reader_memory`"
             " (fresh process per row; peak includes about 170 MB of Python, numpy and pandas)", "",
             "| file | size MB | reader | seconds | peak MB | peak / size | outcome |",
             "| --- | ---: | --- | ---: | ---: | ---: | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        # the files are made in a child process: a child inherits its parent's peak memory figure
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from benchmarks."
                        "bench_reader_memory import make_files; make_files(Path(sys.argv[1]))", tmp], check=True)
        for label, path in make_files(Path(tmp), names_only=True).items():
            size = path.stat().st_size / 2**20
            for name, reader in READERS.items():
                out = subprocess.run([sys.executable, "-c", CHILD.format(reader=reader), str(path)],
                                     capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                seconds, peak, outcome = out.split("|", 2)
                lines.append(f"| {label} | {size:.0f} | {name} | {seconds} | {peak} | {int(peak) / size:.1f} | "
                             f"{outcome} |")
                print(lines[-1], flush=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
