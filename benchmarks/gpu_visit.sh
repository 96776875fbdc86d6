#!/usr/bin/env bash
# One device visit for the GPU rows of issue 11 (node-level condensation on a GPU): everything the
# H200 rows need, in one command that fits one call (stages capped at 570 s in all).
#
# Here, from the project root (stages Cora, CiteSeer, Actor and the wheels the GPU machine lacks):
#   ../shared/device/prepare.sh Cora CiteSeer Actor   (add --wheels "PKG==VER" for anything the suite
#   imports that the GPU machine lacks; this branch's suite needs none)
# Then the device tool's run, with carry [".device"] and timeout_s 600:
#   bash .device/run.sh bash benchmarks/gpu_visit.sh
# What comes back under $OUT: suite.txt (the whole suite with CUDA visible), stages.txt (each
# stage's output and time), graph_node.json and graph_scale.json (the result files with the cuda
# rows merged in; copy them over benchmarks/results/ and run `--table` / `--plot`).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_visit_out}
mkdir -p "$OUT"
log="$OUT/stages.txt"
py=python3
stage() {  # stage SECONDS NAME COMMAND...: run with a cap, log output and wall time, never abort
  local cap=$1 name=$2
  shift 2
  local t0=$SECONDS
  echo "=== $name (cap ${cap}s)" | tee -a "$log"
  timeout "$cap" "$@" >>"$log" 2>&1
  local rc=$?
  echo "=== $name: rc=$rc, $((SECONDS - t0)) s" | tee -a "$log"
  cp benchmarks/results/graph_node.json benchmarks/results/graph_scale.json "$OUT"/ 2>/dev/null || true
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$log" 2>&1
$py -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' >>"$log" 2>&1

# 1. The suite with CUDA visible (device="auto" picks it): the target is all green.
stage 120 suite bash -c "$py -m pytest -q -p no:cacheprovider tests >$OUT/suite.txt 2>&1; tail -5 $OUT/suite.txt"

# 2. 10 GCN evaluation runs on Cora, batched on the GPU vs one at a time (target: <= 5 s).
stage 45 eval-speed $py benchmarks/graph_scale.py --eval-speed --device cuda

# 3. Command start (command -> first step) on Cora, warm cache (target: <= 5 s).
stage 45 startup $py benchmarks/graph_scale.py --startup --device cuda

# 4. Cora 70 per method on cuda, steps capped so the visit fits: sec_per_step is the figure to
#    compare with the CPU cost rows (target: >= 5x faster); full GCond 600 steps with selection
#    (target <= 60 s) only when the capped run shows it fits.
stage 120 cora-cuda $py benchmarks/graph_node.py --key gpu --datasets cora --budgets 70 \
  --methods random,gcsntk,gcdm,doscond --runs 10 --force
stage 45 cora-gcond-60-steps $py benchmarks/graph_node.py --key gpu-steps60 --datasets cora --budgets 70 \
  --methods gcond --steps 60 --runs 10 --force

# 5. Scale on the GPU: the arxiv stand-in at 0.25 % (every method a few steps; GC-SNTK and the
#    learned methods on sampled real nodes where the full graph would not fit), and Reddit's.
#    GCond and DosCond with the references' own arxiv settings (--recipe: SGC backbone).
stage 120 arxiv-cuda $py benchmarks/graph_scale.py --dataset arxiv --scales 0.25,1 --device cuda --recipe \
  --methods gcdm,doscond,gcond,gcsntk,random --steps 5 --set gcsntk.real_batch=256
stage 75 reddit-cuda $py benchmarks/graph_scale.py --dataset reddit --device cuda \
  --methods gcdm,doscond --steps 3 --set gcdm.real_batch=256 --set gcdm.real_fanout=10 \
  --set doscond.real_batch=256 --set doscond.real_fanout=10
echo "done" | tee -a "$log"
