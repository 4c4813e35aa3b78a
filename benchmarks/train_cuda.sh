#!/usr/bin/env bash
# The shipped training recipe on a CUDA GPU: the CUDA serving path against the CPU one, then the 5 cross-validation
# folds side by side on the one GPU, then the final fit alone (its epoch time is the figure the model card compares
# with the CPU's). Run from the project root on a machine with an NVIDIA GPU and MIT-BIH DS1 + nstdb bw/em/ma in
# $ECGAPP_DATA_DIR:
#     bash benchmarks/train_cuda.sh OUT_DIR [extra train.py flags]
# Writes OUT_DIR/hybrid_cuda.{pt,json} (the model card records the CUDA epoch time and the cross-validated figures),
# OUT_DIR/hybrid_cuda_cv.npz, OUT_DIR/bench_cuda.txt and OUT_DIR/folds.tgz (the fold caches of runs/hybrid-cuda/ and
# a log per training process).
# DS2 is not evaluated here (its records need not be on the GPU machine): `python -m benchmarks.bench_ds2
# --weights OUT_DIR/hybrid_cuda` does it on any machine. Training on CUDA (float32; train.py --amp explains why) is
# not bit-for-bit reproducible; the CPU path is (README "Training").
set -u
out=${1:?usage: bash benchmarks/train_cuda.sh OUT_DIR [train.py flags]}
shift
mkdir -p "$out/logs"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
nvidia-smi -L
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

timeout "${BENCH_TIMEOUT:-90}" "$py" -m benchmarks.bench_cuda > "$out/bench_cuda.txt" 2>&1
echo "bench_cuda: exit $?"; tail -n 1 "$out/bench_cuda.txt"

# the folds side by side (each process its own CPU threads for the batches it builds), then the final fit alone
start=$(date +%s)
for f in 0 1 2 3 4; do
  timeout "${FOLD_TIMEOUT:-300}" "$py" train.py --tag hybrid-cuda --fold "$f" --threads 3 "$@" > "$out/logs/fold$f.log" 2>&1 &
done
wait
echo "folds: $(( $(date +%s) - start )) s"; tail -n 2 "$out"/logs/fold*.log
timeout "${FINAL_TIMEOUT:-150}" "$py" train.py --tag hybrid-cuda --evaluate-ds2 false --out "$out/hybrid_cuda" "$@" \
  > "$out/logs/final.log" 2>&1
echo "final: exit $?"; tail -n 8 "$out/logs/final.log"
tar czf "$out/folds.tgz" runs/hybrid-cuda -C "$out" logs && rm -r "$out/logs"
