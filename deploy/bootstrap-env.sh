# Sourced by deploy/test.sh and deploy/demo.sh: a project virtualenv with govwatch installed from the
# pinned constraints, on a machine that has only python3 (3.11+), Java 17+ and Maven.
set -euo pipefail
GOVWATCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GOVWATCH_VENV:-$GOVWATCH_ROOT/.venv}"
need() { command -v "$1" >/dev/null 2>&1 || { echo "govwatch: $1 is required: $2" >&2; exit 2; }; }
need python3 "install Python 3.11+"
need java "install a JDK 17+ (apt-get install openjdk-17-jdk-headless)"
need mvn "install Maven (apt-get install maven)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
stamp="$VENV/.govwatch-installed"
if [ ! -f "$stamp" ] || [ "$GOVWATCH_ROOT/pyproject.toml" -nt "$stamp" ] || [ "$GOVWATCH_ROOT/constraints.txt" -nt "$stamp" ]; then
  echo "==> installing govwatch and its pinned dependencies"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c "$GOVWATCH_ROOT/constraints.txt" -e "$GOVWATCH_ROOT[test]"
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
cd "$GOVWATCH_ROOT"
