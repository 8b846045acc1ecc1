#!/usr/bin/env bash
# The compose `setup` service: runs in the Elasticsearch image, as root, at every `docker compose up`; each step is
# idempotent. It is the only govwatch-side container that sees the superuser password (ELASTIC_PASSWORD).
#
#   1. refuses missing, placeholder, short or shared passwords (before anything starts: no weak stack comes up);
#   2. makes the CA and the node certificate (Elastic's documented compose setup);
#   3. waits for Elasticsearch, sets the built-in kibana_system user's password;
#   4. creates or updates one role and one user per govwatch role (govwatch_init, govwatch_poll, ...), each role
#      limited to the indices that role touches (deploy/helm/govwatch/files/elasticsearch-roles/, shared with the
#      Helm chart), and the user govwatch_kibana_import (built-in role kibana_admin) for `govwatch kibana import`.
#
# `setup-elasticsearch.sh check` runs step 1 only; `setup-elasticsearch.sh users` steps 1 and 4 (after a password
# change in .env:  docker compose run --rm setup bash /govwatch/setup-elasticsearch.sh users). The tests run both,
# `users` against a recording HTTP server (SETUP_ES_URL).
set -euo pipefail

# The govwatch roles with an Elasticsearch user of their own; the role bodies are <role>.json in ROLES_DIR.
ROLES=(init poll digests spikes sources enrich index alert notify web)
# compose.yaml leaves GOVWATCH_INDEX_PREFIX at its default, so the indices are govwatch-*.
PREFIX=govwatch
ROLES_DIR=${SETUP_ROLES_DIR:-/govwatch/roles}
ES=${SETUP_ES_URL:-https://elasticsearch:9200}
CA=config/certs/ca/ca.crt
# 20 characters of [A-Za-z0-9_-] is ~119 bits when random; `openssl rand -hex 32` gives 64.
MIN_LENGTH=20
# Words that mark a value copied from documentation (the same list the govwatch roles refuse at start).
PLACEHOLDERS=(change example password placeholder replace secret insecure)
MAKE_ONE='openssl rand -hex 32'

fail() {
    echo "setup: $*" >&2
    exit 1
}

password_var() {  # role -> the .env variable holding its Elasticsearch password
    echo "ES_PASSWORD_${1^^}"
}

check_secret() {  # variable name: refuse a value that is missing, a placeholder, short, or not a plain token
    local name=$1
    local value=${!name:-}
    [ -n "$value" ] || fail "$name is empty: set it in deploy/compose/.env (make one: $MAKE_ONE)"
    local lower=${value,,} word
    for word in "${PLACEHOLDERS[@]}"; do
        [[ $lower != *"$word"* ]] || fail "$name contains the placeholder word '$word': replace it with a random value ($MAKE_ONE)"
    done
    [ "${#value}" -ge "$MIN_LENGTH" ] || fail "$name has ${#value} characters, fewer than $MIN_LENGTH: make one with $MAKE_ONE"
    # Letters, digits, '_' and '-' only: the value goes into JSON and HTTP basic auth unquoted.
    [[ $value =~ ^[A-Za-z0-9_-]+$ ]] || fail "$name may hold only letters, digits, '_' and '-': make one with $MAKE_ONE"
}

check_all() {
    local names=(ELASTIC_PASSWORD KIBANA_PASSWORD KIBANA_IMPORT_PASSWORD) role name
    for role in "${ROLES[@]}"; do
        names+=("$(password_var "$role")")
        [ -f "$ROLES_DIR/$role.json" ] || fail "no role body $ROLES_DIR/$role.json (mount deploy/helm/govwatch/files/elasticsearch-roles)"
    done
    declare -A seen=()
    for name in "${names[@]}"; do
        check_secret "$name"
        # One password shared by two users would let either role act as the other.
        [ -z "${seen[${!name}]:-}" ] || fail "$name is the same as ${seen[${!name}]}: every user needs its own password"
        seen[${!name}]=$name
    done
}

as_elastic() {  # method path body: one security API call as the superuser; anything but 200 stops setup
    local method=$1 path=$2 body=$3 code
    rm -f /tmp/es-response.json
    # The password goes to curl on stdin (-K -), not on its command line.
    code=$(printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" |
        curl -sS -K - --cacert "$CA" -o /tmp/es-response.json -w '%{http_code}' -X "$method" \
            -H 'Content-Type: application/json' --data-binary "$body" "$ES$path") || true  # judged below
    [ "$code" = 200 ] || fail "$method $path answered $code: $(head -c 500 /tmp/es-response.json 2>/dev/null)"
}

make_certificates() {
    cd /usr/share/elasticsearch/config/certs
    if [ ! -f ca.zip ]; then
        /usr/share/elasticsearch/bin/elasticsearch-certutil ca --silent --pem -out ca.zip
        unzip -o ca.zip
    fi
    if [ ! -f certs.zip ]; then
        printf 'instances:\n  - name: elasticsearch\n    dns: [elasticsearch, localhost]\n    ip: [127.0.0.1]\n' > instances.yml
        /usr/share/elasticsearch/bin/elasticsearch-certutil cert --silent --pem -out certs.zip --in instances.yml \
            --ca-cert ca/ca.crt --ca-key ca/ca.key
        unzip -o certs.zip
    fi
    chown -R 1000:0 /usr/share/elasticsearch/config/certs
    chmod -R go+r /usr/share/elasticsearch/config/certs/ca/ca.crt
    cd /usr/share/elasticsearch
}

create_users() {
    local role password_name password
    for role in "${ROLES[@]}"; do
        as_elastic PUT "/_security/role/${PREFIX}_$role" "$(sed "s/{prefix}/$PREFIX/g" "$ROLES_DIR/$role.json")"
        password_name=$(password_var "$role")
        password=${!password_name}
        as_elastic PUT "/_security/user/${PREFIX}_$role" \
            "{\"password\": \"$password\", \"roles\": [\"${PREFIX}_$role\"], \"full_name\": \"govwatch $role\"}"
        echo "setup: user ${PREFIX}_$role (role ${PREFIX}_$role)"
    done
    as_elastic PUT "/_security/user/${PREFIX}_kibana_import" \
        "{\"password\": \"$KIBANA_IMPORT_PASSWORD\", \"roles\": [\"kibana_admin\"], \"full_name\": \"govwatch kibana import\"}"
    echo "setup: user ${PREFIX}_kibana_import (role kibana_admin)"
}

main() {
    check_all
    case ${1:-} in
        check)
            echo "setup: every password is set, distinct and not a placeholder"
            return 0 ;;
        users)
            create_users
            return 0 ;;
    esac
    make_certificates
    until curl -s --cacert "$CA" "$ES" | grep -q "missing authentication credentials"; do sleep 2; done
    until printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" |
        curl -s -K - -X POST --cacert "$CA" -H "Content-Type: application/json" \
            "$ES/_security/user/kibana_system/_password" -d "{\"password\":\"$KIBANA_PASSWORD\"}" | grep -q "^{}"; do
        sleep 2
    done
    create_users
    echo "setup done"
}

main "$@"
