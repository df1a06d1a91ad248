#!/bin/sh
# Container entry point.
#
# With no arguments: bring the schema to the latest migration, then serve the API.
# With arguments: run them instead, e.g. `goodwill migrate` as a one-off step or
# `goodwill owners create --email you@example.com`.
#
# Several replicas on one PostgreSQL database should not all migrate as they start: run
# `goodwill migrate` once as a separate step (a release job, an init container) and start
# the replicas with GOODWILL_MIGRATE_ON_START=false.
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

case "${GOODWILL_MIGRATE_ON_START:-true}" in
    true | 1 | yes) goodwill migrate ;;
    false | 0 | no) echo "GOODWILL_MIGRATE_ON_START=${GOODWILL_MIGRATE_ON_START}: not migrating" >&2 ;;
    *)
        echo "GOODWILL_MIGRATE_ON_START must be true or false, not '${GOODWILL_MIGRATE_ON_START}'" >&2
        exit 2
        ;;
esac

exec goodwill serve \
    --host "${GOODWILL_HOST:-0.0.0.0}" \
    --port "${GOODWILL_PORT:-8000}" \
    --workers "${GOODWILL_WORKERS:-2}"
