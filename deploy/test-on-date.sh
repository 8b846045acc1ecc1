#!/usr/bin/env bash
# Run tests with the test processes' clock set to a chosen moment (libfaketime), e.g. just before a month ends:
#   ./deploy/test-on-date.sh 2026-11-30T23:58:30Z tests/unit tests/integration/test_es_index.py
# The clock starts there and runs on, so the run crosses the boundary. Only our processes are shifted: Kafka and
# Elasticsearch keep the real clock, so pick a moment in the past (Kafka refuses records stamped more than an
# hour ahead of its own clock, and keeps 7 days). Needs `apt-get install faketime`. The stack must be running
# (`govwatch stack up`), as for deploy/test.sh.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 YYYY-MM-DDTHH:MM:SSZ [pytest args]" >&2; exit 2; }
when="$1"; shift
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap-env.sh"
lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1 || true)
[ -n "$lib" ] || { echo "govwatch: libfaketime is required: apt-get install faketime" >&2; exit 2; }
offset=$(python - "$when" <<'PY'
import sys
from datetime import UTC, datetime
target = datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
print(int((target - datetime.now(UTC)).total_seconds()))
PY
)
echo "==> tests with the clock at $when (offset ${offset}s)"
LD_PRELOAD="$lib" FAKETIME="$offset" python -m pytest "$@"
