"""Cross-validation folds of ablation rows on a GPU machine, many side by side, inside a fixed time budget.

A device lease is short (minutes), so the folds of several rows and seeds run side by side, each a process of its
own (``train.py --fold F --threads 1``, the ablation's command with the tag under ``runs/<prefix>/``), the first
seed of every row first: when the budget runs out the rows that finished hold the same seeds (a paired comparison
on one machine). No fold starts after ``--start-by`` seconds; any still running at ``--kill-at`` is stopped. Then
each row and seed with all five folds is summarised (``train.py --final false``: the current rule refitted) and
``OUT/gpu_cv.json`` holds each one's DS1 cross-validated macro-F1 (N, S, V; pooled) at 360 and 128 Hz, with
``OUT/gpu_folds.tgz`` the cv.json files and the logs.

    python3 -m benchmarks.gpu_folds --variants hybrid "hybrid, P-wave pooling" --seeds 0 1 2 --out OUT
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.ablation import RUNS, VARIANTS, fold_command, tag_of

FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", required=True, choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=15, help="fold processes side by side")
    parser.add_argument("--start-by", type=float, default=330.0, help="seconds after which no fold starts")
    parser.add_argument("--kill-at", type=float, default=470.0, help="seconds after which running folds stop")
    parser.add_argument("--prefix", default="cuda", help="fold caches go to runs/<prefix>/<row's tag>/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-flags", default="", help="more train.py flags for every process (a quick check: "
                        "\"--max-records 10 --epochs 1\")")
    args = parser.parse_args()
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    # 16 fold processes on one H200 ran out of its 139 GB (a process's cache grew to 7-25 GB); 15 with expandable
    # segments all ran (benchmarks/results/cuda.md)
    env = {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"} | os.environ | {"PYTHONUNBUFFERED": "1"}
    start = time.time()

    more = args.train_flags.split()

    def tag(variant: str) -> str:
        return f"{args.prefix}/{tag_of(variant)}"

    def fold(job: tuple[str, int, int]) -> str:
        variant, seed, f = job
        if time.time() - start > args.start_by:
            return "not started"
        log = args.out / "logs" / f"{tag_of(variant)}_s{seed}_f{f}.log"
        cmd = fold_command(variant, seed, ["--fold", str(f), "--final", "false", "--threads", "1", "--tag", tag(variant),
                                              *more])
        with log.open("w") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
            try:
                return f"exit {proc.wait(timeout=max(1.0, args.kill_at - (time.time() - start)))}"
            except subprocess.TimeoutExpired:
                proc.kill()
                return "stopped"

    jobs = [(v, s, f) for s in args.seeds for v in args.variants for f in range(FOLDS)
            if not (RUNS / tag(v) / f"seed{s}" / "cv.json").exists()]  # rows summarised in an earlier call: kept
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for job, status in zip(jobs, pool.map(fold, jobs)):
            print(f"{job[0]} seed {job[1]} fold {job[2]}: {status}", flush=True)
    print(f"folds: {time.time() - start:.0f} s", flush=True)

    complete = [(v, s) for s in args.seeds for v in args.variants
                if all((RUNS / tag(v) / f"seed{s}" / f"fold{f}.npz").exists() for f in range(FOLDS))]
    earlier = [(v, s) for s in args.seeds for v in args.variants if (RUNS / tag(v) / f"seed{s}" / "cv.json").exists()
               and (v, s) not in complete]
    logs = [(args.out / "logs" / f"{tag_of(v)}_s{s}_cv.log").open("w") for v, s in complete]
    summaries = [subprocess.Popen(fold_command(v, s, ["--final", "false", "--tag", tag(v), *more]), env=env,
                                  stdout=log, stderr=subprocess.STDOUT) for (v, s), log in zip(complete, logs)]
    for proc, log in zip(summaries, logs):
        proc.wait()
        log.close()
    result: dict = {}
    for v, s in sorted(complete + earlier, key=lambda vs: (vs[0], vs[1])):
        path = RUNS / tag(v) / f"seed{s}" / "cv.json"
        if path.exists():
            cv = json.loads(path.read_text())
            result.setdefault(v, {})[str(s)] = {f"{fs} Hz": cv[f"at_{fs}Hz"]["with_rule"]["macro_F1_NSV"]
                                                for fs in (360, 128)}
    (args.out / "gpu_cv.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"all: {time.time() - start:.0f} s", flush=True)
    with tarfile.open(args.out / "gpu_folds.tgz", "w:gz") as tar:
        for path in (RUNS / args.prefix).rglob("cv.json"):
            tar.add(path)
        tar.add(args.out / "logs", arcname="logs")


if __name__ == "__main__":
    main()
