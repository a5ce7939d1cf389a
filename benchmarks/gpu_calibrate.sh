#!/bin/bash
# Calibrate a training preset on the GPU machine (the `device` tool), in pieces that resume.
#
# The `small` preset costs minutes of CPU per architecture, so its Spearman ρ over 50 NB201
# architectures needs a GPU. A session's device time is short, so each call trains what fits in
# BUDGET_S seconds and leaves the finished trainings in a journal (`nas calibrate --resume`);
# the next call continues from it. Prepared on the CPU machine; first GPU run still to come.
#
# Here, once per session (the data beside the checkout does not travel; .devdata is ignored):
#   mkdir -p .devdata && cp ../shared/data/cifar10-jpeg.tar.gz ../shared/data/nb201-calibration-1500.csv .devdata/
#   echo /.devdata/ >> .git/info/exclude
# Each device call: run(command="bash benchmarks/gpu_calibrate.sh small 1", carry=[".devdata"]),
# then copy the returned NAME.journal.jsonl (or the finished NAME.json/.csv/.png) into .devdata/.
#
# WORKERS (default 4) candidates train at once on the one GPU (`nas calibrate --workers`): small
# networks leave an H200 mostly idle, so sharing it multiplies the candidates per device-minute. Each
# candidate's wall_s is then measured while sharing; the GPU-seconds per candidate are about
# wall_s / WORKERS (WORKERS=1 measures them alone).
#
# The device image has its own python3 with torch (not our pins) and no internet: the package is
# installed without dependencies; calibrate needs none beyond torch, torchvision, numpy, pandas,
# networkx and matplotlib, which the image holds.
set -uo pipefail
preset=${1:-small}
seed=${2:-1}
budget_s=${BUDGET_S:-480}
workers=${WORKERS:-4}
name="gpu_${preset}_seed${seed}"
out=${OUT:-/tmp/out}
mkdir -p "$out"
python3 -m pip install -q --no-deps --no-build-isolation -e . > "$out/install.log" 2>&1 || {
    tail -n 20 "$out/install.log"; exit 1; }
cp ".devdata/$name.journal.jsonl" "$out/" 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv,noheader
export PYTHONUNBUFFERED=1
timeout --signal=INT -k 30 "$budget_s" nas calibrate --space nb201 --proxies synflow,params --preset "$preset" \
    --sample 50 --seed "$seed" --device cuda --workers "$workers" --data-dir .devdata/cifar10-jpeg.tar.gz \
    --truth .devdata/nb201-calibration-1500.csv --out "$out" --name "$name" --resume 2>&1 | tee "$out/$name.log"
rc=${PIPESTATUS[0]}
# 0: done, NAME.json holds everything (the journal is gone); 130 (or 137 where SIGINT is ignored, as
# in a backgrounded job): stopped at the budget, the journal holds what finished (first line: the key)
if [ -f "$out/$name.journal.jsonl" ]; then
    echo "exit $rc; trainings journaled: $(($(wc -l < "$out/$name.journal.jsonl") - 1))"
else
    echo "exit $rc; results in $out/$name.json"
fi
