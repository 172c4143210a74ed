#!/usr/bin/env bash
# The measurements of one lent-GPU session (issue #7), in order of priority,
# in one command that ends inside the device tool's 10-minute limit. Session
# 19 ran `conv`, `dcgan`, `seeds` and the sub-pixel sections; the default
# list now starts with what no session has measured yet:
#
#   1. `conv` at batch 1024 on JAX, to see where mixed precision starts to
#      pay (at batch 128 a float32 step takes 1.0 ms: latency-bound);
#   2. the torch backend with the data held on the GPU (`DeviceBatches`),
#      eagerly and under `torch.compile`, beside the plain-PyTorch loop;
#   3. `conv` and `dcgan` on JAX in float32 / mixed_float16 / mixed_bfloat16
#      with the data held on the GPU (`--input=device`), beside the
#      plain-PyTorch reference, to repeat session 19's figures; `conv`'s
#      reference runs in NCHW and in channels_last (NHWC), which made the
#      CPU reference 0.98-1.26x as fast per round in session 25.
#
# Other sections, by name: `seeds` (ten seeds of the torch backend's `conv`
# each way, weights drawn by CUDA or on the CPU, ELBOs only), `sub_pixel_conv`,
# `sub_pixel_dcgan`, `conv_sub`, `dcgan_sub`, `conv_auto`.
#
# Sections run one process at a time (timings), except `seeds`, which runs
# its probes side by side (no timings). A section starts only if the time
# left allows it. Run from the repository root on the device machine,
# with the Keras wheels in .whl/ and the Fashion-MNIST IDX files in .data/:
#
#   # here, first (the device had Python 3.12, JAX, torch, no TensorFlow, no
#   # Keras and no internet in session 19; /.whl/ and /.data/ are git-ignored):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 -d .whl keras==3.15.1 namex optree
#   mkdir -p .data && cp /usr/share/datasets/fashion-mnist/*.gz .data/
#   # then the device tool's run, with carry [".whl", ".data"]:
#   bash benchmarks/gpu_session.sh          (writes under $OUT)
#   SMOKE=1 bash benchmarks/gpu_session.sh  (tiny runs, any machine)
#   SECTIONS="conv_sub dcgan_sub" bash benchmarks/gpu_session.sh  (some)
#
# $OUT gets at most 8 files: gpu.txt, models.jsonl, seeds.jsonl, log.txt.
set -u
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
START=$(date +%s)
BUDGET=${BUDGET:-540}
LOG="$OUT/log.txt"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=${KERAS_BACKEND:-jax}
if ls .whl/*.whl >/dev/null 2>&1 && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl >>"$LOG" 2>&1 || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DATA="$PWD/.data"
[ -d "$DATA" ] || DATA=/usr/share/datasets/fashion-mnist
PYTHON=${PYTHON:-python3}

if [ -n "${SMOKE:-}" ]; then
  SIZE=(--epochs=2 --steps=3 --train_examples=2048 --test_examples=256)
  PROBE=(--epochs=1 --train_examples=512 --test_examples=256)
  SEEDS=${SEEDS:-2}
else
  SIZE=(--epochs=3)
  PROBE=(--epochs=3)
  SEEDS=${SEEDS:-10}
fi

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu \
    --format=csv 2>&1
  "$PYTHON" -c "import sys, keras, jax, torch; print(sys.version); print('keras', keras.__version__, 'jax', jax.__version__, jax.devices(), 'torch', torch.__version__, torch.cuda.is_available())" 2>&1
  nproc
} >"$OUT/gpu.txt"

left() { echo $((BUDGET - ($(date +%s) - START))); }

models() {  # name, seconds it needs, run.py flags...
  local name=$1 need=$2
  shift 2
  if [ "$(left)" -lt "$need" ]; then
    echo "skip $name: $(left) s left, needs $need" | tee -a "$LOG"
    return
  fi
  echo "== $name $(date +%T) ($(left) s left)" | tee -a "$LOG"
  (cd benchmarks && timeout "$(left)" "$PYTHON" run.py --data_dir="$DATA" "${SIZE[@]}" "$@") \
    2>>"$LOG" | sed "s/^{/{\"section\": \"$name\", /" >>"$OUT/models.jsonl"
  echo "   $name rc=${PIPESTATUS[0]} $(date +%T)" | tee -a "$LOG"
}

seeds() {  # the torch backend's conv ELBO over seeds, CUDA- and CPU-drawn weights
  if [ "$(left)" -lt 150 ]; then
    echo "skip seeds: $(left) s left" | tee -a "$LOG"
    return
  fi
  echo "== seeds $(date +%T) ($(left) s left)" | tee -a "$LOG"
  local pids=() seed init
  for seed in $(seq 0 $((SEEDS - 1))); do
    for init in "" --cpu_init; do
      (cd benchmarks && KERAS_BACKEND=torch timeout 240 "$PYTHON" policy_probe.py \
        --workload=conv --precision=float32 --seed="$seed" $init --data_dir="$DATA" \
        "${PROBE[@]}" 2>>"$LOG" | grep '^RESULT ' | sed 's/^RESULT //' >>"$OUT/seeds.jsonl") &
      pids+=($!)
    done
  done
  wait "${pids[@]}"
  echo "   seeds done $(date +%T): $(wc -l <"$OUT/seeds.jsonl") results" | tee -a "$LOG"
}

ALL="conv_batch1024 torch_device torch_device_compiled conv dcgan"
for section in ${SECTIONS:-$ALL}; do
  case $section in
    conv) models conv 150 --workload=conv --backend=jax --input=device \
      --reference_memory_format=channels_first,channels_last \
      --precision=float32,mixed_float16,mixed_bfloat16 ;;
    dcgan) models dcgan 120 --workload=dcgan --backend=jax --input=device --nopeak \
      --precision=float32,mixed_float16,mixed_bfloat16 ;;
    seeds) seeds ;;
    sub_pixel_conv) models sub_pixel_conv 80 --workload=conv --backend=jax \
      --input=device --nopeak --noreference --sub_pixel=always \
      --precision=float32,mixed_float16 ;;
    sub_pixel_dcgan) models sub_pixel_dcgan 80 --workload=dcgan --backend=jax \
      --input=device --nopeak --noreference --sub_pixel=always \
      --precision=float32,mixed_bfloat16 ;;
    torch_device) models torch_device 120 --workload=conv \
      --backend=torch --input=device --nopeak --precision=float32,mixed_bfloat16 ;;
    torch_device_compiled) models torch_device_compiled 150 \
      --workload=conv --backend=torch --input=device --nopeak --noreference \
      --jit_compile=true --precision=float32 ;;
    conv_batch1024) models conv_batch1024 100 --workload=conv --backend=jax \
      --input=device --nopeak --batch_size=1024 \
      --precision=float32,mixed_float16,mixed_bfloat16 ;;
    # Session 19's second call: the sub-pixel form with the reference and all
    # three precisions, then the transposed form in float32 for an A/B.
    conv_sub) models conv_sub 110 --workload=conv --backend=jax --input=device \
      --nopeak --sub_pixel=always --precision=float32,mixed_float16,mixed_bfloat16 ;;
    dcgan_sub) models dcgan_sub 90 --workload=dcgan --backend=jax --input=device \
      --nopeak --sub_pixel=always --precision=float32,mixed_float16,mixed_bfloat16 ;;
    conv_auto) models conv_auto 50 --workload=conv --backend=jax --input=device \
      --nopeak --noreference --precision=float32 ;;
    *) echo "unknown section $section" | tee -a "$LOG" ;;
  esac
done
nvidia-smi --query-gpu=clocks.sm,temperature.gpu --format=csv >>"$OUT/gpu.txt" 2>&1
echo "end $(date +%T), $(($(date +%s) - START)) s" | tee -a "$LOG"
# The summaries, last in the reply.
grep '"summary": true' "$OUT/models.jsonl" | "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    keys = ("section", "impl", "backend", "precision", "images_per_sec",
            "speed_vs_float32", "speed_vs_reference",
            "speed_vs_reference_channels_last", "memory_format", "test_neg_elbo")
    print({k: r[k] for k in keys if k in r})
'
