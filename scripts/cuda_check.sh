#!/usr/bin/env bash
# The CUDA checks, in one run on a machine with an NVIDIA GPU (about 10 minutes at most in all):
# nvidia-smi, the CUDA tests, `python -m bench --device cuda`, a short training run of the `large` preset
# on the GPU and its evaluation. Everything it writes goes under $OUT (default ./cuda-out).
#
#   OUT=/tmp/out scripts/cuda_check.sh
#
# Environment: OUT; DATA (dataset folder, default data/default: git-ignored, so it must be copied to that
# machine; without it the training and evaluation steps are reported as not run); TRAIN_BUDGET (trainer
# --time-budget, default 150s); BENCH_PAIRS (default 192); PYTHON.
# Every step has its own `timeout`, cut short where needed so that the whole run ends within
# TOTAL_SECONDS (default 570, under 10 minutes); a step with no time left is skipped, so raise
# TRAIN_BUDGET only with time to spare. A failed step is reported and the next one still runs; the exit
# status is 1 if any failed, 3 when there is no CUDA GPU (checked before anything slow).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(realpath -m "${OUT:-./cuda-out}")"
DATA="$(realpath -m "${DATA:-$root/data/default}")"
TRAIN_BUDGET="${TRAIN_BUDGET:-150s}"
BENCH_PAIRS="${BENCH_PAIRS:-192}"
deadline=$((SECONDS + ${TOTAL_SECONDS:-570}))
python="${PYTHON:-$(command -v python || command -v python3)}"
mkdir -p "$OUT"
tmp="$(mktemp -d)"  # tone and judge caches: rebuilt each run, not worth bringing back
trap 'rm -rf "$tmp"' EXIT
exec > >(tee -a "$OUT/cuda_check.log") 2>&1
cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" QT_QPA_PLATFORM=offscreen

failed=()
step() {  # step NAME SECONDS COMMAND...: runs COMMAND under its own timeout and records a failure
  local name="$1" secs="$2" t0=$SECONDS rc
  shift 2
  local left=$((deadline - SECONDS))
  [ "$left" -lt "$secs" ] && secs=$left
  if [ "$left" -lt 10 ]; then
    echo "=== $name: skipped, the run's time is spent"
    failed+=("$name (no time left)")
    return 1
  fi
  echo "=== $name (at most ${secs} s): $*"
  timeout --kill-after=15 "$secs" "$@"
  rc=$?
  echo "=== $name: exit $rc after $((SECONDS - t0)) s$([ "$rc" = 124 ] && echo ' (timed out)')"
  [ "$rc" = 0 ] || failed+=("$name (exit $rc)")
  return "$rc"
}

date -u
if command -v nvidia-smi >/dev/null; then
  step nvidia-smi 20 nvidia-smi
else
  echo "=== nvidia-smi: not installed here"
fi

# the machine may bring its own CUDA build of torch: install the project only when an import is missing
if ! "$python" -c 'import torch, numpy, PIL, safetensors, platformdirs, pytest' 2>/dev/null; then
  step install 120 "$python" -m pip install -e ".[test]"
fi
if ! "$python" -c 'import torch, sys; print("torch", torch.__version__, "CUDA", torch.version.cuda,
                   "available:", torch.cuda.is_available()); sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "cuda_check: error: torch sees no CUDA GPU on this machine; nothing else was run (log in $OUT)"
  exit 3
fi

# the tests that exercise CUDA (skipped elsewhere): every test file that mentions it, its cuda tests
mapfile -t cuda_tests < <(grep -l -i cuda tests/test_*.py)
step pytest-cuda 120 "$python" -m pytest -q -p no:cacheprovider -k cuda "${cuda_tests[@]}" \
  --junitxml "$OUT/pytest-cuda.xml"

step bench 150 "$python" -m bench --device cuda --pairs "$BENCH_PAIRS" --out "$OUT/bench"

if [ -f "$DATA/metadata.jsonl" ]; then
  budget_s="$("$python" -c 'import sys; from trainer.train import parse_duration as p; print(int(p(sys.argv[1])))' \
    "$TRAIN_BUDGET")"
  # + 75 s for reading the dataset into tone images, fitting the kernel prior and the final save
  step train-large $((budget_s + 75)) "$python" -m trainer train "$DATA" --preset large --device cuda \
    --time-budget "$TRAIN_BUDGET" --tone-cache "$tmp/tones" --out "$OUT/large.safetensors" &&
  step evaluate-large 100 "$python" -m trainer.evaluate "$OUT/large.safetensors" "$DATA" \
    --out "$OUT/large.eval" --seeds 256 --judge-seconds 45 --cache "$tmp/eval-cache"
else
  echo "=== train-large: no dataset at $DATA (no metadata.jsonl; data/ is not in git): set DATA"
  failed+=("train-large (no dataset)")
fi

date -u
if [ ${#failed[@]} -gt 0 ]; then
  echo "cuda_check: failed: ${failed[*]}; results in $OUT"
  exit 1
fi
echo "cuda_check: all steps passed; results in $OUT"
