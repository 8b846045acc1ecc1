#!/usr/bin/env bash
# Write deploy/compose/.env from .env.example with every secret generated: each empty `NAME=` line of the example
# gets its own random value, and GOVWATCH_WEB_ADMIN_TOKEN_HASH the hash of a new admin token, which is printed once
# (keep it: it is the web app's admin login). Refuses to overwrite an existing .env.
#
#   deploy/compose/make-env.sh            # hashes with `govwatch` on PATH, else with the image (docker run)
#
# The values are 64 hex digits (openssl rand -hex 32): what the setup service and the govwatch roles accept.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=$HERE/.env.example
TARGET=${1:-$HERE/.env}
IMAGE=${GOVWATCH_IMAGE:-govwatch:0.1.0}

fail() {
    echo "make-env: $*" >&2
    exit 1
}

random_value() {
    if command -v openssl >/dev/null; then
        openssl rand -hex 32
    else
        python3 -c 'import secrets; print(secrets.token_hex(32))'
    fi
}

hash_token() {  # token on stdin -> the salted hash GOVWATCH_WEB_ADMIN_TOKEN_HASH holds
    if command -v govwatch >/dev/null; then
        govwatch web hash-token
    elif command -v docker >/dev/null; then
        docker image inspect "$IMAGE" >/dev/null 2>&1 \
            || fail "no image $IMAGE yet: build it first (docker build -f deploy/docker/Dockerfile -t $IMAGE .)"
        docker run --rm -i "$IMAGE" govwatch web hash-token
    else
        fail "neither govwatch nor docker is on PATH: install govwatch, or Docker and build the image (docker build -f deploy/docker/Dockerfile -t $IMAGE .)"
    fi
}

[ ! -e "$TARGET" ] || fail "$TARGET exists; move it away first (it holds the stack's passwords)"
token=$(random_value)
token_hash=$(printf '%s' "$token" | hash_token)
[ -n "$token_hash" ] || fail "could not hash the admin token"

umask 077  # the file holds every password of the stack
while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line == GOVWATCH_WEB_ADMIN_TOKEN_HASH=* ]]; then
        # Single quotes: the hash contains `$`, which compose would otherwise read as a variable.
        printf "GOVWATCH_WEB_ADMIN_TOKEN_HASH='%s'\n" "$token_hash"
    elif [[ $line =~ ^[A-Z][A-Z0-9_]*=$ ]]; then  # an empty value in the example is a secret to make
        printf '%s%s\n' "$line" "$(random_value)"
    else
        printf '%s\n' "$line"
    fi
done < "$EXAMPLE" > "$TARGET"

echo "make-env: wrote $TARGET (mode 600) with a random value for every password and key" >&2
echo "make-env: the web app's admin token (shown once; only its hash is in $TARGET):" >&2
echo "$token"
