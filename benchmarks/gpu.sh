#!/usr/bin/env bash
# Every GPU figure of docs/performance.md ("On a GPU"), in one go (~15 minutes on one H200):
#
#     bash benchmarks/gpu.sh [LOG_DIR]        # from the repository root, JAX's CUDA build installed
#
# 1. the engine: batches of 1,024 and 4,096 sweep members, a lone member, the Fig. 2 corridor;
# 2. table2 at paper scale, projected on this GPU and the host's cores;
# 3. all of table2-quick as a sweep on the GPU and on the host's CPU, compared run by run
#    (the verdict's last line: "the same drift: none of N tests differs", or which differ);
# 4. the noise generator on the host's CPU (one core), and whether XLA vectorized it there.
# Each step's output goes to the terminal and to LOG_DIR (default gpu-logs/).
set -uo pipefail
cd "$(dirname "$0")/.."
logs="${1:-gpu-logs}"
python=${PYTHON:-python}  # e.g. PYTHON=.venv/bin/python
cores=$(nproc)
device_workers=4
"$python" -c "import sys, jax; sys.exit(jax.devices()[0].platform != 'gpu')" \
    || { echo "gpu.sh: JAX sees no GPU (pip install -e '.[cuda13]' or '.[cuda]')" >&2; exit 2; }
mkdir -p "$logs"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$logs/gpu.txt"
status=0
"$python" benchmarks/engine.py --runs 1024 --only batched single corridor --repeats 3 \
    2>&1 | tee "$logs/engine-1024.txt" || status=1
"$python" benchmarks/engine.py --runs 4096 --only batched --repeats 3 \
    2>&1 | tee "$logs/engine-4096.txt" || status=1
"$python" benchmarks/sweep.py --only project --batch-size 1024 --workers "$cores" \
    --project-snapshots 8 2>&1 | tee "$logs/project.txt" || status=1
"$python" benchmarks/sweep.py --only device --batch-size 256 --workers "$cores" \
    --device-workers "$device_workers" --snapshot-threads $((cores / device_workers)) \
    2>&1 | tee "$logs/device.txt" || status=1
JAX_PLATFORMS=cpu "$python" benchmarks/noise.py 2>&1 | tee "$logs/noise-host-cpu.txt" || status=1
exit $status
