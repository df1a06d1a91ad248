#!/usr/bin/env bash
# The production image, built and run for real (`make image-check`; .ci/run runs it):
#   Debian's podman, runc and debootstrap, installed when missing
#   -> the base: a stand-in for python:3.11-slim-bookworm debootstrapped from Debian's own
#      python3 (no registry to pull from), made once and then reused from podman's store
#   -> `podman build` of the Dockerfile on it
#   -> the container started on a named volume, serving on a free port of 127.0.0.1
#   -> /readyz -> `goodwill owners create` inside the container -> a contact created and read
#      back with the key it printed -> every process runs as uid 10001 -> the SQLite file is on
#      the volume -> the image's HEALTHCHECK passes -> SIGTERM stops it cleanly
#   -> the image's size.
# Run as root (apt-get, debootstrap, podman's store), with deb.debian.org and PyPI reachable.
# The container and its volume are removed on every exit, failures included; the base image
# and the build's layers are kept, so the next run only rebuilds what changed.
#
# IMAGE_CHECK_BASE=docker.io/library/python:3.11-slim-bookworm builds on that image instead of
# the stand-in (where a registry is reachable).
set -euo pipefail

cd "$(dirname "$0")/.."
# podman reads this file and no other containers.conf: runc, cgroupfs, no ulimits, host network.
export CONTAINERS_CONF="$PWD/docker/containers.conf"

HOST_PACKAGES="podman runc debootstrap debian-archive-keyring ca-certificates curl"
SUITE=bookworm
MIRROR="http://deb.debian.org/debian"
# What the official python image gives the Dockerfile: python3 with venv (and so pip), and CA
# certificates for PyPI. Recorded on the image as a label: a change here makes a new base.
BASE_PACKAGES="python3,python3-venv,ca-certificates"
BASE_RECIPE="${SUITE}:${BASE_PACKAGES}"
BASE_IMAGE="${IMAGE_CHECK_BASE:-localhost/goodwill-base:${SUITE}}"
IMAGE=localhost/goodwill:image-check
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
NAME="goodwill-image-check-$$"
VOLUME="$NAME"
EMAIL="image-check@example.com"

# Every wait is bounded. `timeout --foreground` keeps each command in this script's process
# group, so that CI's own timeout (a SIGTERM to the group) stops the command at once and the
# cleanup runs; without it, timeout moves the command to a group of its own, and this script
# would wait for it to finish before cleaning up.
APT_SECONDS=600
DEBOOTSTRAP_SECONDS=900
IMPORT_SECONDS=300
BUILD_SECONDS=1200
READY_SECONDS=90
EXEC_SECONDS=60
HTTP_SECONDS=10
STOP_SECONDS=20

ROOTFS=""
WORK="$(mktemp -d)"

step() { printf -- '--> [%3ss] %s\n' "$SECONDS" "$*"; }
fail() {
    printf 'image-check FAILED: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if command -v podman >/dev/null && podman container exists "$NAME" 2>/dev/null; then
        if [ "$status" -ne 0 ]; then
            echo "--- the container's last log lines" >&2
            podman logs --tail 40 "$NAME" >&2 || true
        fi
        podman rm --force --time 5 "$NAME" >/dev/null || true
    fi
    if command -v podman >/dev/null; then
        podman volume rm --force "$VOLUME" >/dev/null 2>&1 || true
    fi
    if [ -n "$ROOTFS" ]; then
        # debootstrap mounts /proc and /sys inside the tree while it works: unmount whatever
        # an interrupted run left there before deleting, and never cross into a mount.
        awk -v root="$ROOTFS/" 'index($2, root) == 1 { print $2 }' /proc/mounts \
            | sort -r | xargs -r umount -l || true
        rm -rf --one-file-system "$ROOTFS" || true
    fi
    rm -rf "$WORK"
    if [ "$status" -eq 0 ]; then
        step "image-check passed in ${SECONDS}s"
    else
        step "image-check FAILED (exit ${status}) after ${SECONDS}s"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_host_packages() {
    local missing=() pkg
    for pkg in $HOST_PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        step "Debian packages: nothing to install (have: ${HOST_PACKAGES})"
        return
    fi
    step "Debian packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout --foreground --kill-after=15 "$APT_SECONDS" apt-get update -q
    timeout --foreground --kill-after=15 "$APT_SECONDS" \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

base_recipe_of() {
    podman image inspect --format '{{index .Labels "org.goodwill.base"}}' "$1" 2>/dev/null
}

# The stand-in for python:3.11-slim-bookworm: a minimal bookworm with Debian's python3 (3.11),
# configured as the official image is (PATH, LANG), imported into podman's store.
ensure_base() {
    if [ -n "${IMAGE_CHECK_BASE:-}" ]; then
        step "base: ${BASE_IMAGE} (IMAGE_CHECK_BASE)"
        return
    fi
    if podman image exists "$BASE_IMAGE" \
        && [ "$(base_recipe_of "$BASE_IMAGE")" = "$BASE_RECIPE" ]; then
        step "base: ${BASE_IMAGE} from podman's store (${BASE_RECIPE})"
        return
    fi
    step "base: debootstrap ${SUITE} (minbase + ${BASE_PACKAGES}) from ${MIRROR}"
    ROOTFS="$(mktemp -d /var/tmp/goodwill-base.XXXXXX)"
    timeout --foreground --kill-after=15 "$DEBOOTSTRAP_SECONDS" debootstrap --variant=minbase \
        --include="$BASE_PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
        "$ROOTFS"/var/lib/apt/lists/*
    step "base: podman import as ${BASE_IMAGE}"
    tar --numeric-owner -C "$ROOTFS" -c . \
        | timeout --foreground --kill-after=15 "$IMPORT_SECONDS" podman import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change "LABEL org.goodwill.base=${BASE_RECIPE}" \
            --change 'CMD ["python3"]' \
            - "$BASE_IMAGE" >/dev/null
    rm -rf --one-file-system "$ROOTFS"
    ROOTFS=""
}

build_image() {
    local previous current
    previous="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
    step "podman build on ${BASE_IMAGE} -> ${IMAGE}"
    # --network host: pip reaches PyPI from the build. --format docker: the OCI format has no
    # HEALTHCHECK, and podman would drop it. --volume: the RUN steps trust the certificate
    # authorities this host trusts (a TLS-intercepting proxy's, where the traffic to PyPI goes
    # through one), and none of them is written into the image; Debian's pip reads that bundle.
    timeout --foreground --kill-after=15 "$BUILD_SECONDS" \
        podman build --network host --format docker \
        --volume "${HOST_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro" \
        --pull=missing --build-arg BASE_IMAGE="$BASE_IMAGE" --tag "$IMAGE" --file Dockerfile .
    # The image this one replaces, and the layers only it used, would otherwise pile up run
    # after run; one that something else still tags is kept.
    current="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
    if [ -n "$previous" ] && [ "$previous" != "$current" ] \
        && [ -z "$(podman image inspect --format '{{.RepoTags}}' "$previous" 2>/dev/null | tr -d '[]')" ]; then
        podman rmi "$previous" >/dev/null 2>&1 || true
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# json_field FILE KEY: one top-level string field of a JSON document.
json_field() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

in_container() {
    timeout --foreground --kill-after=5 "$EXEC_SECONDS" podman exec "$NAME" "$@"
}

wait_ready() {
    local deadline=$((SECONDS + READY_SECONDS))
    step "waiting for ${URL}/readyz (at most ${READY_SECONDS}s)"
    until curl -fsS --max-time 2 -o /dev/null "$URL/readyz" 2>/dev/null; do
        if [ "$(podman inspect --format '{{.State.Running}}' "$NAME")" != true ]; then
            fail "the container exited before it was ready"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "/readyz did not answer 200 within ${READY_SECONDS}s"
        fi
        sleep 1
    done
    step "ready: $(curl -fsS --max-time "$HTTP_SECONDS" "$URL/readyz")"
}

# An owner made with the CLI inside the container, and its key used on the API from outside.
check_api() {
    local key status contact_id
    step "goodwill owners create inside the container"
    in_container goodwill owners create --email "$EMAIL" --json >"$WORK/owner.json"
    key="$(json_field "$WORK/owner.json" api_key)"
    [ -n "$key" ] || fail "goodwill owners create printed no api_key"

    step "POST /v1/contacts, then GET it, with that key"
    status="$(curl -sS --max-time "$HTTP_SECONDS" -o "$WORK/created.json" -w '%{http_code}' \
        -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \
        -d '{"display_name": "Image Check"}' "$URL/v1/contacts")"
    [ "$status" = 201 ] || fail "POST /v1/contacts answered ${status}: $(cat "$WORK/created.json")"
    contact_id="$(json_field "$WORK/created.json" id)"
    status="$(curl -sS --max-time "$HTTP_SECONDS" -o "$WORK/read.json" -w '%{http_code}' \
        -H "Authorization: Bearer ${key}" "$URL/v1/contacts/${contact_id}")"
    [ "$status" = 200 ] || fail "GET /v1/contacts/${contact_id} answered ${status}"
    [ "$(json_field "$WORK/read.json" display_name)" = "Image Check" ] \
        || fail "GET /v1/contacts/${contact_id} answered another contact: $(cat "$WORK/read.json")"
    echo "contact ${contact_id} created (201) and read back (200)"
    # Without a key, the same request is refused: the 200 above was the key's doing.
    status="$(curl -sS --max-time "$HTTP_SECONDS" -o /dev/null -w '%{http_code}' \
        "$URL/v1/contacts/${contact_id}")"
    [ "$status" = 401 ] || fail "GET without a key answered ${status}, not 401"
}

check_non_root() {
    local uid pid rows main
    step "non-root: uid 10001 for exec and for every process of the container"
    uid="$(in_container id -u)"
    [ "$uid" = 10001 ] || fail "podman exec runs as uid ${uid}, not 10001"
    pid="$(podman inspect --format '{{.State.Pid}}' "$NAME")"
    # The main process is `goodwill serve` itself: the entry point execs it.
    main="$(tr '\0' ' ' <"/proc/${pid}/cmdline")"
    [[ "$main" == *"goodwill serve"* ]] || fail "the container's main process is ${main}"
    podman top "$NAME" pid huser args | tee "$WORK/top.txt"
    rows="$(tail -n +2 "$WORK/top.txt")"
    [ "$(printf '%s\n' "$rows" | wc -l)" -ge 2 ] || fail "expected goodwill serve and its workers"
    if printf '%s\n' "$rows" | awk '$2 != "10001"' | grep -q .; then
        fail "a process of the container runs as another user than 10001"
    fi
}

check_volume() {
    local mountpoint owner
    step "the database is on the volume ${VOLUME}"
    mountpoint="$(podman volume inspect --format '{{.Mountpoint}}' "$VOLUME")"
    [ -s "${mountpoint}/goodwill.db" ] || fail "no goodwill.db in the volume (${mountpoint})"
    owner="$(stat -c %u "${mountpoint}/goodwill.db")"
    [ "$owner" = 10001 ] || fail "goodwill.db on the volume belongs to uid ${owner}, not 10001"
    ls -ln "$mountpoint"
}

# podman runs health checks from systemd timers, and there is no systemd here: the container
# runs with --no-healthcheck (else podman logs errors about systemd), and the image's check
# command is run here instead, inside the container, as podman would run it.
check_healthcheck() {
    local command=()
    step "the image's HEALTHCHECK"
    podman image inspect --format '{{json .HealthCheck}}' "$IMAGE" | tee "$WORK/healthcheck.json"
    mapfile -d '' command < <(python3 -c '
import json, sys
test = json.load(open(sys.argv[1]))["Test"]
# CMD ["exe", "arg", ...] is run as is, CMD-SHELL "..." by the shell.
args = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
sys.stdout.write("".join(arg + "\0" for arg in args))
' "$WORK/healthcheck.json")
    [ "${#command[@]}" -gt 0 ] || fail "the image has no HEALTHCHECK"
    in_container "${command[@]}" || fail "the HEALTHCHECK failed"
    echo "healthy"
}

stop_container() {
    local started code
    step "podman stop (SIGTERM, at most ${STOP_SECONDS}s before SIGKILL)"
    started=$SECONDS
    timeout --foreground --kill-after=5 "$((STOP_SECONDS + 15))" \
        podman stop --time "$STOP_SECONDS" "$NAME" >/dev/null
    code="$(podman inspect --format '{{.State.ExitCode}}' "$NAME")"
    echo "stopped in $((SECONDS - started))s, exit code ${code}"
    [ "$code" = 0 ] || fail "goodwill serve did not exit cleanly on SIGTERM (exit code ${code})"
}

[ "$(id -u)" -eq 0 ] || fail "run as root: it installs Debian packages, runs debootstrap and podman"
install_host_packages
step "$(podman --version), $(runc --version | head -n 1), CONTAINERS_CONF=${CONTAINERS_CONF}"

ensure_base
build_image

PORT="$(free_port)"
URL="http://127.0.0.1:${PORT}"
step "podman run ${IMAGE} as ${NAME}, volume ${VOLUME} on /data, ${URL}"
# Host networking: the server binds the host's 127.0.0.1 directly. --no-healthcheck: see
# check_healthcheck.
timeout --foreground --kill-after=5 "$EXEC_SECONDS" \
    podman run --detach --name "$NAME" --network host --no-healthcheck \
    --env GOODWILL_HOST=127.0.0.1 --env GOODWILL_PORT="$PORT" \
    --volume "${VOLUME}:/data" "$IMAGE" >/dev/null

wait_ready
check_api
check_non_root
check_volume
check_healthcheck
stop_container

SIZE="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
BASE_SIZE="$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")"
step "image ${IMAGE}: ${SIZE} bytes ($(numfmt --to=iec-i --suffix=B "$SIZE")); the base" \
    "${BASE_IMAGE}: ${BASE_SIZE} bytes ($(numfmt --to=iec-i --suffix=B "$BASE_SIZE"))"
