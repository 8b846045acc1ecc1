#!/bin/sh
# govwatch's install into a fresh virtualenv, exactly as the image's build stage runs it (deploy/docker/Dockerfile),
# and as tests/integration/test_installed_package.py runs it outside Docker:
#
#     install.sh SOURCE PREFIX DIST
#
# builds the wheel from SOURCE (a tree with pyproject.toml and constraints.txt) into DIST, then installs it with the
# pinned constraints into a new virtualenv at PREFIX. Nothing is cached (no pip cache in an image layer) and
# no compiler is needed: every pinned dependency ships a manylinux wheel.
set -eu
if [ "$#" -ne 3 ]; then
  echo "usage: install.sh SOURCE PREFIX DIST" >&2
  exit 2
fi
SOURCE=$1 PREFIX=$2 DIST=$3
PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip wheel --no-cache-dir --no-deps --quiet --wheel-dir "$DIST" "$SOURCE"
"$PYTHON" -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip install --no-cache-dir --quiet --only-binary :all: \
  --constraint "$SOURCE/constraints.txt" "$DIST"/govwatch-*.whl
"$PREFIX/bin/govwatch" --help >/dev/null
