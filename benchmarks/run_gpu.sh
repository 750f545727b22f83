#!/usr/bin/env bash
# The device side of `mini_reproduction.py --profile gpu`, run from the root of the checkout the
# device tool sent, with .gpu and .whl carried (benchmarks/prepare_gpu_carry.sh writes both).
# The first GGUF part came with an earlier call on the same machine (.gpu_w1, also copied to
# /tmp/codeio-gguf by that call). Extra arguments go to mini_reproduction.py.
#
#   call 1 (carry .gpu_w1):    mkdir -p /tmp/codeio-gguf && cp .gpu_w1/* /tmp/codeio-gguf/
#   call 2 (carry .gpu .whl):  bash .gpu/run_gpu.sh [--variants ...]
#
# RUN_GPU_PYTHON (default python3) and RUN_GPU_SKIP_WHEELS=1 let a dry run on a CPU machine use
# a local environment instead.
set -uo pipefail
out=${OUT:-/tmp/codeio-gpu-out}
py=${RUN_GPU_PYTHON:-python3}
mkdir -p "$out"
if [[ -z ${RUN_GPU_SKIP_WHEELS:-} ]]; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "run_gpu: wheel install failed" >&2; exit 3; }
fi
export PYTHONPATH="/tmp/site:$PWD/.gpu/codeio/src" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
part1=.gpu_w1/smollm2.gguf.part1
[[ -f $part1 ]] || part1=/tmp/codeio-gguf/smollm2.gguf.part1
if [[ ! -f $part1 ]]; then
  echo "run_gpu: the first GGUF part is not on this machine (a fresh one?): make call 1 first" >&2
  exit 4
fi
gguf=/tmp/codeio-gguf/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p /tmp/codeio-gguf
cat "$part1" .gpu/smollm2.gguf.part2 >"$gguf"
echo "$(cat .gpu/smollm2.gguf.sha256)  $gguf" | sha256sum -c - || { echo "run_gpu: GGUF damaged" >&2; exit 5; }
"$py" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
  .gpu/data/prepared.jsonl.xz /tmp/prepared.jsonl || { echo "run_gpu: data unreadable" >&2; exit 6; }
[[ -f .gpu/data/prepared.meta.json ]] && cp .gpu/data/prepared.meta.json /tmp/prepared.meta.json
nvidia-smi -L 2>/dev/null || echo "run_gpu: no nvidia-smi here" >&2
# Stop before a 600 s call limit would, so that the files below still come back.
timeout "${RUN_GPU_LIMIT:-575}" "$py" .gpu/codeio/benchmarks/mini_reproduction.py --profile gpu \
  --data /tmp/prepared.jsonl --gguf "$gguf" --cruxeval .gpu/data/cruxeval.jsonl \
  --out /tmp/codeio-mr "$@" 2>&1 |
  grep --line-buffered -v -e 'Loading weights' -e 'Writing model shards' -e 'de-quantizing GGUF' | tee "$out/log.txt"
rc=${PIPESTATUS[0]}
cp /tmp/codeio-mr/result.json "$out/" 2>/dev/null
tar -czf "$out/generations.tgz" -C /tmp/codeio-mr generations 2>/dev/null
exit "$rc"
