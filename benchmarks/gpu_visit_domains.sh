#!/usr/bin/env bash
# One device visit for the GPU rows of issues 7 (graph level), 10 (robust) and 8 (MedMNIST), in one command that
# ends within BUDGET = 560 s of wall time (each stage is capped; a stage never gets more than what is left).
#
# GPU visit (a session whose task is lent a GPU; the whole visit is one device-tool call):
#   1. Here, from the project root (stages the data and the three packages the GPU machine lacks into .device/;
#      prepare.sh appends /.device/ to .git/info/exclude and stops if that folder is missing, as in /work/main today):
#      mkdir -p "$(git rev-parse --git-path info)"
#      ../shared/device/prepare.sh --wheels "medmnist==3.0.2 torchattacks==3.5.1 opacus==1.6.0" PROTEINS MNIST medmnist
#      (22 MB of data and wheels; the tree plus .device was 29 MB on 2026-12-04, under the 64 MiB: it prints the size)
#   2. The device tool's run with carry [".device"] and timeout_s 600:
#        bash .device/run.sh bash benchmarks/gpu_visit_domains.sh
#      then AT ONCE (the machine stays warm 30 s; a fresh start would cost a minute of the 15), timeout_s 260:
#        STAGES=d BUDGET=245 bash .device/run.sh bash benchmarks/gpu_visit_domains.sh
#      Both calls together held the machine 836 s of the 900 in sitting 18 (start 32 s). The second call finds the
#      first one's runs/ (expert files, checkpoints) on the warm machine and resumes from them.
#   3. Here, with the folder the reply names (files_at):
#        bash benchmarks/gpu_visit_domains.sh --merge FILES_AT
#      merges into benchmarks/results/{graph_level,robust,medical}.json only the returned entries made on cuda (their
#      hardware.device), under each file's lock, so rows written here since the visit are kept (copying the returned
#      files over benchmarks/results/ would drop them), then prints the three tables (`--table` of each script).
#      Record in BENCHMARKS.md which card gave which figure: every entry's hardware.device names it; stages.txt
#      has nvidia-smi's line and each stage's wall time.
#
# What it runs, in this order (caps in seconds; a later stage gets what earlier ones leave, up to its cap). Sitting 18
# ran the first version on an H200 (caps a 75, b1 90, b2 150, c 90, then d): a was cut with 15 of its 24 tests
# passed and none failed, b1 and b2's KiDD made their rows (doscond 42 s, kidd 94 s of condensation, ~27 s of
# evaluation each, ~18 s of start-up per command), b2 was cut in `random`, c printed nothing in its 90 s, d wrote its
# 2 experts (12.4 s per 50-epoch expert) and was cut in PTM after ~320 s over two calls. Hence these caps and order:
#   a. tests (cap 120): the CUDA-only device-audit tests of the four domains (image, graph, privacy, robust):
#      pytest -q -rP -k cuda on tests/{core/vision/test_image,graph/test,privacy/test_privacy,robust/test_robust}_
#      device_audit*.py: two steps of every method on cuda, a finite set on the device, syncs printed (-rP); and on
#      tests/core/vision/test_{batched_fit,image_optimizer}.py (batched students, fused SGD on cuda).
#   c. issue 10 (cap 200): one audit row on cuda: MNIST IPC 10, the first robust row's recipe (BENCHMARKS.md: MTT,
#      MLP experts 3 x 5 epochs without DSA, 500 iterations, syn_steps 20, max_start_epoch 3), λ = 0, condensed and
#      audited on cuda: 3 MLP students, FGSM, PGD-L∞ and AutoAttack at ε 0.1, 0.2, 0.3 on the stratified
#      1,000-image test subset; method `mtt-gpu` (--audit-tag gpu), keys `mnist/mtt-gpu/mlp/ipc10/lam0/seed0/...`.
#      The set is condensed anew on the GPU (not the CPU row's set): the entry's cost has condense and audit apart;
#      the log has the condensation's seconds before the audit starts (a cut audit still times the condensation).
#      (CPU, sitting 14: condensation 149 s, audit 293 s wall / 101 CPU s.)
#   e. (cap 60) the medical evaluation's 5 ConvNet students one at a time vs trained together (vmap), on cuda:
#      benchmarks/image_eval_batched.py, BreastMNIST's first 10 training images per class, 300 epochs, the same
#      seeds; wall seconds of both and each run's ACC/AUC, key `breastmnist/first10pc/convnet/runs5/epochs300/
#      val50/seed0/cuda` in image_eval_batched.json (sitting 22 on one CPU thread: the CPU row of the same key).
#      Also in stage a: tests/core/vision/test_batched_fit.py's cuda test (batched = one at a time on cuda) and
#      test_image_optimizer.py's (SGD fused on cuda).
#   b. issue 7, PROTEINS at 10 graphs per class, every method on cuda, the CPU rows' recipes (DosCond: the kept
#      candidate node_multiplier=2 mask_padding=true; the others: reference settings), 10 evaluation runs of GCN and
#      GIN, keys `proteins|METHOD|gpc10|seed0|gpu` (the CPU rows' keys are untouched; a key already present is
#      skipped, so a second visit fills only what the first one missed: doscond and kidd are there since sitting 18):
#        b1 (cap 90) doscond; b2 (cap 240) kidd, random, kidd-lr, herding, kcenter (in that order; each row is
#        saved as it finishes, so a cut stage keeps the rows before the cut).
#   d. issue 8 (what is left; the second call above): a slice of the `paper` profile, NOT the paper
#      profile itself: PneumoniaMNIST IPC 10, PTM with the paper profile's recipe (HoP-TM's syn_steps 80,
#      expert_epochs 2, max_start_epoch 20, lr_img 10; evaluation 1,000 epochs, 5 ConvNet runs, validation-selected)
#      but 2 experts of the paper's 50 epochs, not 100 (--experts 2), and 100 PTM iterations, not 5,000
#      (--set iterations=100; PTM's 5 stages then last 20 iterations each), its students (the validation checks'
#      and the 5 test runs) trained together (--batched, core/vision/batched.py; MED_BATCHED=0 trains them one at a
#      time, key without /students=batched): key
#      `pneumoniamnist/ptm/ipc10/paper/convnet/iterations=100/experts=2/students=batched`. Its entry gives the
#      seconds of 2 experts x 50 epochs (experts.generation_time_s) and per PTM iteration (cost), from which the
#      paper scale (100 x 50 experts, 5,000 iterations) is extrapolated; stages.txt lists each expert file's write time, so a stage cut
#      before the entry is saved still times the experts, and the progress bar (every 15 s) how far PTM got.
#      Override with MED_ITERS / MED_EXPERTS. The paper's own buffer (100 experts x 50 epochs) takes ~21 minutes in
#      one process at sitting 18's 12.4 s per expert: more than a visit; `benchmarks/medical.py --expert-workers N`
#      trains N experts at once (processes sharing the GPU; not yet measured there).
#   STAGES=abecd (default) picks the stages; keys already in the results file are skipped by b and d, not by c.
#   c and d run with --progress (the engine's bar on stderr, one update per TQDM_MININTERVAL = 15 s).
#   Not run: the full `paper` profile (100 experts x 50 epochs and 5,000 iterations: well over one visit), node-level
#   rows (benchmarks/gpu_visit.sh), privacy rows, the whole suite.
# What comes back under $OUT: stages.txt (versions, nvidia-smi, each stage's output and wall time), tests.txt (the
# tests' report), graph_level.json, robust.json, medical.json, image_eval_batched.json (the results files with the
# new cuda rows), copied after every stage.
#
# CPU check (here, in a scratch copy: never in the checkout, whose results files and runs/ it would change):
#   mkdir -p /tmp/ck-check/repo && git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t /tmp/ck-check/repo
#   cd /tmp/ck-check/repo && OMP_NUM_THREADS=1 CHECK=1 DEV=cpu PY=/work/main/.venv/bin/python \
#     CONDENSEKIT_DATA=/work/shared/data CONDENSEKIT_CACHE=/tmp/ck-check/cache OUT=/tmp/ck-check/out \
#     nice -n 10 bash benchmarks/gpu_visit_domains.sh
# runs every stage's command as written with tiny settings appended (steps 2, 1 run, 60 test images, BreastMNIST
# with 2-epoch experts and 2 PTM iterations for d): about 3 minutes on 2 shared cores (stage a's tests skip without
# a GPU). The merge can be checked the same way: `--merge DIR` in the scratch copy merges into its results files.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

if [ "${1:-}" = "--merge" ]; then  # --merge RETURNED_DIR [RESULTS_DIR], here: with the project's venv
  PY=${PY:-.venv/bin/python}
  src=${2:?usage: --merge RETURNED_DIR [RESULTS_DIR]}
  dst=${3:-benchmarks/results}
  "$PY" - "$src" "$dst" <<'PY' || exit 1
import json, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from common import load, save_entry  # merges one entry under the file's lock
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("graph_level.json", "robust.json", "medical.json", "image_eval_batched.json"):
    if not (src / name).exists():
        print(f"{name}: not returned")
        continue
    new, old = json.loads((src / name).read_text())["entries"], load(dst / name)["entries"]
    cuda = {k: e for k, e in new.items() if str((e.get("hardware") or {}).get("device", "")).startswith("cuda")}
    picked = {k: e for k, e in cuda.items() if old.get(k) != e}
    for k, e in picked.items():
        save_entry(k, e, dst / name)
    print(f"{name}: {len(picked)} cuda entries merged ({len(cuda) - len(picked)} already there)")
    for k in sorted(picked):
        print("   ", k)
PY
  [ "$dst" = benchmarks/results ] || exit 0
  for s in graph_level robust medical image_eval_batched; do echo "== $s"; "$PY" "benchmarks/$s.py" --table; done
  exit 0
fi

PY=${PY:-python3}
DEV=${DEV:-cuda}
CHECK=${CHECK:-0}
BUDGET=${BUDGET:-560}
MED_ITERS=${MED_ITERS:-100}
MED_EXPERTS=${MED_EXPERTS:-2}
MED_BATCHED=${MED_BATCHED:-1}  # stage d's students trained together (benchmarks/medical.py --batched); 0: one at a time
STAGES=${STAGES:-abecd}  # a later visit can run only what the first one missed, e.g. STAGES=cd
OUT=${OUT:-/tmp/gpu_visit_domains_out}
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-15}  # the --progress bars: one line per 15 s in stages.txt
mkdir -p "$OUT"
log="$OUT/stages.txt"
t0=$SECONDS
small() { [ "$CHECK" = 1 ] && echo "$@"; }  # the CPU check's tiny settings, appended to a stage's command
stage() {  # stage LETTER CAP NAME COMMAND...: at most CAP s and what is left of BUDGET; log output, time; never abort
  local letter=$1 cap=$2 name=$3
  shift 3
  case "$STAGES" in *"$letter"*) ;; *) echo "=== $name: not asked (STAGES=$STAGES)" | tee -a "$log"; return ;; esac
  local left=$((BUDGET - (SECONDS - t0) - 8))
  [ "$cap" -gt "$left" ] && cap=$left
  if [ "$cap" -lt 15 ]; then
    echo "=== $name: not run, ${left} s left" | tee -a "$log"
    return
  fi
  local t=$SECONDS
  echo "=== $name (cap ${cap}s, from $(date +%s.%N)): $*" | tee -a "$log"
  timeout -k 5 "$cap" "$@" >>"$log" 2>&1
  echo "=== $name: rc=$? (124: cut at the cap), $((SECONDS - t)) s" | tee -a "$log"
  cp benchmarks/results/graph_level.json benchmarks/results/robust.json benchmarks/results/medical.json \
    benchmarks/results/image_eval_batched.json "$OUT"/ 2>/dev/null || true
}
{
  date -u
  git log -1 --format='commit %h %s' 2>/dev/null || true
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || true
  "$PY" -c 'import torch, torch_geometric as g; print("torch", torch.__version__, "cuda", torch.version.cuda,
torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU", "pyg", g.__version__)' 2>&1
} >>"$log"

# a. the CUDA-only device-audit tests (skipped where there is no GPU)
stage a 120 device-audit-tests bash -c "$PY -m pytest -q -rP -p no:cacheprovider -k cuda \
  tests/core/vision/test_image_device_audit.py tests/graph/test_device_audit_graph.py \
  tests/privacy/test_privacy_device_audit.py tests/robust/test_robust_device_audit.py \
  tests/core/vision/test_batched_fit.py tests/core/vision/test_image_optimizer.py >$OUT/tests.txt 2>&1; \
  rc=\$?; tail -3 $OUT/tests.txt; exit \$rc"

# e. the medical evaluation's students one at a time vs batched (vmap) on the device, BreastMNIST 20 images
# shellcheck disable=SC2046
stage e 60 image-eval-batched "$PY" benchmarks/image_eval_batched.py --flag breastmnist --per-class 10 --runs 5 \
  --epochs 300 --device "$DEV" $(small --epochs 2 --runs 2)

# c. issue 10: one audit row on the device (MNIST IPC 10, MTT on MLP experts, λ 0; 3 attacks × ε 0.1, 0.2, 0.3)
RS=$(small --num-experts 2 --teacher-epochs 3 --set max_start_epoch=1 --steps 2 --runs 1 --epochs 2 --subset 60 \
  --pgd-steps 2)
# shellcheck disable=SC2086
stage c 200 robust-audit "$PY" benchmarks/robust.py --dataset mnist --base mtt --ipc 10 --curvature 0 --model mlp \
  --num-experts 3 --teacher-epochs 5 --expert-dsa false --set dsa=false --set syn_steps=20 --set max_start_epoch=3 \
  --steps 500 --runs 3 --subset 1000 --attacks fgsm,pgd,autoattack --eps 0.1,0.2,0.3 --audit-tag gpu \
  --device "$DEV" --progress $RS

# b. issue 7: one row per method on the device, PROTEINS gpc 10, the CPU rows' recipes, tagged gpu
G=(benchmarks/graph_level.py --datasets proteins --gpcs 10 --runs 10 --device "$DEV" --tag gpu)
# shellcheck disable=SC2046
stage b 90 graph-level-doscond "$PY" "${G[@]}" --methods doscond --set node_multiplier=2 --set mask_padding=true \
  $(small --runs 1 --steps 2 --eval-every 2)
# shellcheck disable=SC2046
stage b 240 graph-level-others "$PY" "${G[@]}" --methods kidd,random,kidd-lr,herding,kcenter \
  $(small --runs 1 --kidd-steps 2 --kidd-eval-every 2)

# d. issue 8: the paper profile's PTM recipe at PneumoniaMNIST IPC 10 with 2 experts and 100 iterations (a slice)
MB=$([ "$MED_BATCHED" = 1 ] && echo --batched)
MS=$(small --flags breastmnist --expert-epochs 2 --set iterations=2 --set max_start_epoch=1 --set syn_steps=2 --set stages=2 \
  --select-every 0 --runs 1)
# shellcheck disable=SC2086
stage d 600 medical-paper-slice "$PY" benchmarks/medical.py --flags pneumoniamnist --methods ptm --ipcs 10 \
  --profile paper --experts "$MED_EXPERTS" --set iterations="$MED_ITERS" --runs 5 --device "$DEV" --progress $MB $MS
{
  echo "expert files (write time in epoch seconds, bytes, path):"
  find runs/experts -type f -printf '%T@ %s %p\n' 2>/dev/null | sort -n
} >>"$log"
echo "done in $((SECONDS - t0)) s" | tee -a "$log"
