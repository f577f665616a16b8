#!/usr/bin/env bash
# Check `forgetting train` and `forgetting unlearn` on a lent CUDA machine (promptir and adair, fp32 and bf16, one
# process and, with two GPUs or more, two): exit status, wall seconds, peak GPU memory (nvidia-smi's memory.used,
# sampled every 0.5 s) and what the cards say, in $OUT/gpu_check.json (benchmarks/gpu_check.py runs each as a child
# `forgetting` process). From the repository root:
#
#     bash benchmarks/gpu_check.sh                     # OUT defaults to figures/gpu_check
#     OUT=/some/folder bash benchmarks/gpu_check.sh --models promptir --precisions bf16   # extra options go to gpu_check.py
#
# Installs the project first when .venv is missing: `make install`, or, where no package index can be reached (the lent
# machines), a venv over the system python's packages (torch there) with any wheels in .whl/ (fastcore, fastprogress)
# and the project itself, none of them fetched. About 2-4 minutes on one H100.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-figures/gpu_check}"
export OUT PYTHONUNBUFFERED=1 MPLBACKEND=Agg

install_offline() {
  echo "make install failed (no package index?): a venv over $(command -v python3)'s packages instead" >&2
  rm -rf .venv                                   # the half-made one `make install` left (there was none before)
  python3 -m venv --system-site-packages .venv
  if compgen -G '.whl/*.whl' >/dev/null; then .venv/bin/python -m pip install -q --no-index --no-deps .whl/*.whl; fi
  .venv/bin/python -m pip install -q --no-index --no-deps --no-build-isolation -e . || {
    echo "no editable install (setuptools/wheel missing?): the repository goes on the venv's path instead" >&2
    .venv/bin/python -c 'import site, sys; open(site.getsitepackages()[0] + "/forgetting-repo.pth", "w").write(sys.argv[1] + "\n")' "$PWD"
    printf '#!%s\nimport sys\nfrom forgetting.cli import main\nsys.exit(main())\n' "$PWD/.venv/bin/python" > .venv/bin/forgetting   # the console script pip would write
    chmod +x .venv/bin/forgetting; }
}

if [ ! -d .venv ]; then
  PIP_RETRIES=0 PIP_DEFAULT_TIMEOUT=10 make install || install_offline
fi
.venv/bin/forgetting --help > /dev/null || { echo "the project does not import from .venv: see above" >&2; exit 1; }

mkdir -p "$OUT"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi
  echo "GPUs listed: $(nvidia-smi -L | wc -l)"
else
  echo "nvidia-smi not found: no NVIDIA GPU visible" >&2
fi
.venv/bin/python -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "available:", torch.cuda.is_available(), "devices:", torch.cuda.device_count())'

.venv/bin/python benchmarks/gpu_check.py --out "$OUT" "$@"
