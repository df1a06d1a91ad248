#!/usr/bin/env bash
# The client check (`make client-check`): a Python client generated from the committed
# openapi/openapi.json by openapi-python-client, with no edit to what it generates, calls a
# live `goodwill serve` on a temporary SQLite database (exercise.py says what it does).
#
# The generator runs in a virtualenv of its own (openapi/client-check/.venv, from the
# hash-pinned requirements.txt), apart from the app's. Every wait is bounded; the server
# is stopped and the temporary files removed however the check ends.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
APP_BIN="$ROOT/.venv/bin"
VENV="$HERE/.venv"
PYTHON="${PYTHON:-python3}"
# Seconds the server may take to answer /readyz, and the client script to finish.
SERVER_START_SECONDS="${SERVER_START_SECONDS:-30}"
EXERCISE_SECONDS="${EXERCISE_SECONDS:-120}"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    local status=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do  # up to 5 s for a graceful stop
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -s "$WORK/server.log" ]; then
        echo "--- server log (last 40 lines) ---" >&2
        tail -n 40 "$WORK/server.log" >&2
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The generator's virtualenv, rebuilt when its lock changes.
if [ ! -f "$VENV/.installed" ] || [ "$HERE/requirements.txt" -nt "$VENV/.installed" ]; then
    echo "==> installing openapi-python-client into $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --require-hashes -r "$HERE/requirements.txt"
    touch "$VENV/.installed"
fi

echo "==> generating the client from openapi/openapi.json"
# --fail-on-warning: a part of the document the generator cannot use fails the check.
PATH="$VENV/bin:$PATH" "$VENV/bin/openapi-python-client" generate \
    --path "$ROOT/openapi/openapi.json" \
    --config "$HERE/config.yaml" \
    --meta none \
    --output-path "$WORK/client/goodwill_client" \
    --fail-on-warning >"$WORK/generate.log" 2>&1 || {
    cat "$WORK/generate.log" >&2
    exit 1
}

echo "==> starting goodwill serve on a temporary SQLite database"
export GOODWILL_DATABASE_URL="sqlite:///$WORK/goodwill.db"
PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$APP_BIN/goodwill" migrate >/dev/null
KEY="$("$APP_BIN/goodwill" owners create --email client-check@example.com --json |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')"
"$APP_BIN/goodwill" serve --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE_URL="http://127.0.0.1:$PORT"
deadline=$((SECONDS + SERVER_START_SECONDS))
until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$BASE_URL/readyz" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "goodwill serve exited before it was ready" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "goodwill serve was not ready within ${SERVER_START_SECONDS}s" >&2
        exit 1
    fi
    sleep 0.2
done

echo "==> calling it with the generated client"
PYTHONPATH="$WORK/client" timeout --kill-after=5 "$EXERCISE_SECONDS" \
    "$VENV/bin/python" "$HERE/exercise.py" "$BASE_URL" "$KEY"
