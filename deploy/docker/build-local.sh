#!/usr/bin/env bash
# Build govwatch's image from deploy/docker/Dockerfile on a machine that cannot pull python:3.11-slim-bookworm:
#
#     deploy/docker/build-local.sh [--tag NAME] [--no-cache]      # build (stand-in base made once, then cached)
#     deploy/docker/build-local.sh --engine-command               # print the container command line, one word a line
#
# The Dockerfile is used unchanged except for its PYTHON_IMAGE build argument, which names a stand-in base made from
# Debian bookworm's own packages (debootstrap: python3 3.11, python3-venv, ca-certificates, and a virtualenv at
# /opt/python first on PATH so that `python3 -m pip` exists as in the official image). deploy/README.md ("Building the
# image without a registry") says how the stand-in differs from the official base. Podman or Docker, whichever is
# present (podman first). The stand-in is made once and cached under $GOVWATCH_CACHE_DIR/images (a tarball, imported
# again if the engine's storage was wiped); making it needs root (debootstrap, chroot) and the Debian mirror.
#
# Environment:
#   GOVWATCH_IMAGE             tag to build (default govwatch:<version from pyproject.toml>, compose's default image)
#   GOVWATCH_PYTHON_IMAGE      a base to use instead of the stand-in, e.g. python:3.11-slim-bookworm where a
#                              registry is reachable (the stand-in is then neither made nor used)
#   GOVWATCH_CONTAINER_ENGINE  podman or docker (default: podman if installed, else a Docker with a running daemon)
#   GOVWATCH_DEBIAN_MIRROR     Debian mirror for debootstrap (default: the bookworm URI of this machine's apt sources)
#
# The last line printed is a summary the test suite reads (tests/support/containers.py):
#   govwatch-build: image=NAME size_bytes=N build_s=N base=NAME base_s=N|cached engine=podman|docker
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${GOVWATCH_CACHE_DIR:-$HOME/.cache/govwatch}/images"
# Bump when the recipe of the stand-in changes: the cached tarball and image are keyed by it.
STANDIN_RECIPE=r1
STANDIN_SUITE=bookworm   # the official python:3.11-slim-bookworm's Debian release (its python3 is 3.11)
STANDIN_PACKAGES=python3,python3-venv,ca-certificates
STANDIN_VENV=/opt/python
STANDIN_PATH="$STANDIN_VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STANDIN_NAME="localhost/govwatch-python-standin:$STANDIN_SUITE-$STANDIN_RECIPE"
STANDIN_TAR="$CACHE/python-standin-$STANDIN_SUITE-$STANDIN_RECIPE.tar"
# Builds need the machine's CA bundle when package downloads go through a TLS-inspecting proxy; it is mounted
# read-only into the build's RUN steps (podman), never copied into a layer.
HOST_CA=/etc/ssl/certs/ca-certificates.crt

die() { echo "build-local: $*" >&2; exit 2; }

tag="${GOVWATCH_IMAGE:-govwatch:$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -1)}"
no_cache=()
print_engine=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) [ $# -ge 2 ] || die "--tag needs a name"; tag=$2; shift 2 ;;
    --no-cache) no_cache=(--no-cache); shift ;;
    --engine-command) print_engine=1; shift ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

# --- the engine -------------------------------------------------------------------------------------------------
# Podman on these machines (cgroup v1, no systemd, RLIMIT raises refused) needs runc rather than crun, the cgroupfs
# manager, and no default ulimits; those options are harmless where the defaults work, so they are always used.
engine_cmd=()
pick_engine() {
  local want="${GOVWATCH_CONTAINER_ENGINE:-}"
  if [ -z "$want" ]; then
    if command -v podman >/dev/null 2>&1; then want=podman
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then want=docker
    else
      die "no container engine: install podman (as root: apt-get install podman runc; deploy/bootstrap-env.sh does it for the test command) or start a Docker daemon"
    fi
  fi
  case "$want" in
    podman)
      command -v podman >/dev/null 2>&1 || die "GOVWATCH_CONTAINER_ENGINE=podman but podman is not installed (apt-get install podman runc)"
      if [ -z "${CONTAINERS_CONF:-}" ]; then
        mkdir -p "$CACHE"
        export CONTAINERS_CONF="$CACHE/containers.conf"
        # Podman's default ulimits (nofile, nproc raised for the container) are refused where the host limits are
        # lower than what podman asks; an empty list keeps the caller's limits.
        printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF.tmp.$$"
        mv -f "$CONTAINERS_CONF.tmp.$$" "$CONTAINERS_CONF"
      fi
      engine_cmd=(env "CONTAINERS_CONF=$CONTAINERS_CONF" podman)
      # crun fails on cgroup v1 hybrid hosts ("cgroups in hybrid mode not supported"); runc works everywhere.
      if command -v runc >/dev/null 2>&1; then engine_cmd+=(--runtime runc); fi
      # Without systemd as init there is no systemd cgroup manager to talk to.
      if [ ! -d /run/systemd/system ]; then engine_cmd+=(--cgroup-manager cgroupfs); fi
      ;;
    docker)
      docker info >/dev/null 2>&1 || die "GOVWATCH_CONTAINER_ENGINE=docker but no Docker daemon answers (docker info)"
      engine_cmd=(docker)
      ;;
    *) die "GOVWATCH_CONTAINER_ENGINE=$want: use podman or docker" ;;
  esac
  engine=$want
}
pick_engine
if [ "$print_engine" = 1 ]; then
  printf '%s\n' "${engine_cmd[@]}"
  exit 0
fi
E() { "${engine_cmd[@]}" "$@"; }
has_image() { E image inspect "$1" >/dev/null 2>&1; }

# --- the stand-in base ------------------------------------------------------------------------------------------
debian_mirror() {
  # The URI this machine's apt uses for the suite (deb822 .sources first, then one-line sources.list), so
  # debootstrap reaches the same (reachable, possibly proxied) mirror as apt-get.
  if [ -n "${GOVWATCH_DEBIAN_MIRROR:-}" ]; then echo "$GOVWATCH_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(awk -v suite="$STANDIN_SUITE" '
      /^URIs:/ {u=$2} /^Suites:/ {for (i=2; i<=NF; i++) if ($i==suite) s=1}
      /^$/ {if (s && u && !found) {print u; found=1} u=""; s=0}
      END {if (s && u && !found) print u}' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk -v suite="$STANDIN_SUITE" '$1=="deb" {for (i=2; i<=NF; i++) if ($i ~ /^[a-z]+:\/\//) {if ($(i+1)==suite) print $i; break}}' \
      /etc/apt/sources.list | head -1)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

make_standin_tar() {
  [ "$(id -u)" = 0 ] || die "making the stand-in base needs root (debootstrap, chroot): run this once as root, or set GOVWATCH_PYTHON_IMAGE=python:3.11-slim-bookworm where a registry is reachable"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (as root: apt-get install debootstrap)"
  local mirror work
  mirror=$(debian_mirror)
  work=$(mktemp -d "$CACHE/standin.XXXXXX")
  # --one-file-system: should debootstrap die with /proc or /dev still mounted in the tree, never delete through them.
  # shellcheck disable=SC2064  # expand $work now: the trap runs after the function returned
  trap "rm -rf --one-file-system '$work'" EXIT
  echo "==> making the stand-in base: debootstrap $STANDIN_SUITE from $mirror (once; about 1-2 minutes)"
  debootstrap --variant=minbase --include="$STANDIN_PACKAGES" "$STANDIN_SUITE" "$work/root" "$mirror" \
    > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # The official image has `python3 -m pip`; Debian's python3 has no pip, so a virtualenv (ensurepip) provides it.
  chroot "$work/root" /usr/bin/python3 -m venv "$STANDIN_VENV"
  # As debian:bookworm-slim: no package caches or lists, no docs (copyright files kept), man pages or locales.
  local r="$work/root"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
         "$r"/usr/share/locale/* "$r"/var/log/*.log "$r"/var/cache/debconf/*-old "$r"/tmp/*
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r$STANDIN_VENV" -name __pycache__ -type d -prune -exec rm -rf {} +
  tar -C "$r" --numeric-owner -cf "$STANDIN_TAR.tmp" .
  mv -f "$STANDIN_TAR.tmp" "$STANDIN_TAR"
  rm -rf --one-file-system "$work"
  trap - EXIT
}

standin() {
  mkdir -p "$CACHE"
  # One maker at a time (two test runs, or a test and a person): the second waits and then finds it made.
  exec 9>"$CACHE/.standin.lock"
  flock 9
  if has_image "$STANDIN_NAME"; then base_s=cached; return; fi
  local start=$SECONDS
  [ -s "$STANDIN_TAR" ] || make_standin_tar
  echo "==> importing $STANDIN_TAR as $STANDIN_NAME"
  E import --change "ENV PATH=$STANDIN_PATH" --change "ENV LANG=C.UTF-8" --change 'CMD ["python3"]' \
    "$STANDIN_TAR" "$STANDIN_NAME" >/dev/null
  base_s=$((SECONDS - start))
}

base_s=cached
if [ -n "${GOVWATCH_PYTHON_IMAGE:-}" ]; then
  base=$GOVWATCH_PYTHON_IMAGE
else
  base=$STANDIN_NAME
  standin
fi

# --- the image --------------------------------------------------------------------------------------------------
build=(build -f "$ROOT/deploy/docker/Dockerfile" -t "$tag" --build-arg "PYTHON_IMAGE=$base" --network host "${no_cache[@]}")
if [ "$engine" = podman ]; then
  # The OCI format drops HEALTHCHECK; the Docker format keeps it (compose and `podman healthcheck run` use it).
  build+=(--format docker)
  if [ -f "$HOST_CA" ]; then build+=(-v "$HOST_CA:$HOST_CA:ro"); fi
fi
echo "==> building $tag from deploy/docker/Dockerfile on $base ($engine)"
start=$SECONDS
E "${build[@]}" "$ROOT"
build_s=$((SECONDS - start))
size=$(E image inspect --format '{{.Size}}' "$tag")
echo "==> $tag: $((size / 1000000)) MB, built in ${build_s} s (base $base: $([ "$base_s" = cached ] && echo cached || echo "made in ${base_s} s"))"
echo "govwatch-build: image=$tag size_bytes=$size build_s=$build_s base=$base base_s=$base_s engine=$engine"
