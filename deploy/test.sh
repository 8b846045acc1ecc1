#!/usr/bin/env bash
# The whole test suite (unit + integration) against the real local stack.
# Installs what is missing, runs the static checks (ruff, then mypy: either failing fails the run before any test),
# starts Kafka + Elasticsearch + Prefect if they are not running (and stops them again at the end, even when tests
# fail), creates the topics/indices, runs pytest.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap-env.sh"
# Both read their configuration ([tool.ruff], [tool.mypy]: what is checked, how strictly) from pyproject.toml.
echo "==> ruff check"
ruff check || { echo "govwatch: ruff check failed (lint errors above); no tests were run" >&2; exit 1; }
echo "==> mypy"
mypy || { echo "govwatch: mypy failed (type errors above); no tests were run" >&2; exit 1; }
started_here=0
if ! govwatch stack status >/dev/null 2>&1; then
  started_here=1
  trap 'echo "==> stopping the stack"; govwatch stack down' EXIT
  echo "==> starting the local stack (first run downloads Kafka and Elasticsearch from Maven Central)"
  govwatch stack up
fi
govwatch init >/dev/null
echo "==> running tests"
set +e
python -m pytest "$@"
status=$?
set -e
[ "$started_here" = 1 ] || echo "(the stack was already running; left running)"
exit $status
