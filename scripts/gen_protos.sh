#!/usr/bin/env bash
# Regenerate protos/gen/python from protos/cityhub/**.proto. The only way generated code is made:
# stale output is deleted first, grpcio-tools is pinned to the grpcio runtime, mypy-protobuf writes
# the .pyi stubs. A lock keeps two concurrent runs from interleaving.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
export PATH="$(dirname "$PYTHON"):$PATH"
OUT=protos/gen/python
exec 9>"${TMPDIR:-/tmp}/cityhub-protos.lock"
flock 9
rm -rf "$OUT/cityhub"
mkdir -p "$OUT/cityhub"
mapfile -t PROTOS < <(cd protos && find cityhub -name '*.proto' | sort)
"$PYTHON" -m grpc_tools.protoc \
  -I protos \
  --python_out="$OUT" \
  --grpc_python_out="$OUT" \
  --mypy_out="$OUT" \
  --mypy_grpc_out="$OUT" \
  "${PROTOS[@]}"
# Every generated folder is a regular package so that mypy and hatch see one tree.
find "$OUT/cityhub" -type d -exec sh -c 'touch "$1/__init__.py"' _ {} \;
touch "$OUT/cityhub/py.typed"
echo "generated ${#PROTOS[@]} proto files into $OUT"
