#!/usr/bin/env bash
# Installs codeio with every extra into ./.venv (idempotent). Torch is pinned to the CPU build
# first so that resolving the extras never pulls a multi-GB CUDA build; set CODEIO_TORCH to change it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${CODEIO_TORCH:-torch==2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev,hf,local,train,ray,corpus]"
echo "codeio installed in .venv ($(.venv/bin/codeio --version 2>/dev/null || echo 'codeio'))"
