#!/bin/sh
# Container entrypoint (also used by `make serve`): check the configuration, bring the database to
# the newest migration, then replace this shell with the server command given as arguments
# (default: gunicorn), so the server is PID 1 and receives docker's SIGTERM itself.
#
# A database that is still starting (RDS after a reboot, a compose service) gets
# MIGRATE_ATTEMPTS tries (default 10), the waits doubling from MIGRATE_DELAY seconds (default 2)
# up to MIGRATE_MAX_DELAY (default 30); after the last one the script stops with the error and
# the output of `flask doctor`, which names the step to fix. A configuration error is not retried.
# PYTHON names the interpreter (default: python3 on PATH).
set -eu

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export FLASK_APP="${FLASK_APP:-flask_backend_with_aws}"
attempts=${MIGRATE_ATTEMPTS:-10}
delay=${MIGRATE_DELAY:-2}
max_delay=${MIGRATE_MAX_DELAY:-30}

if [ "$#" -eq 0 ]; then
  set -- "$PYTHON" -m gunicorn -c gunicorn.conf.py flask_backend_with_aws:application
fi

say() { echo "entrypoint: $*" >&2; }

case "$attempts$delay$max_delay" in
  *[!0-9]*) say "MIGRATE_ATTEMPTS, MIGRATE_DELAY and MIGRATE_MAX_DELAY must be whole numbers."
            exit 64 ;;
esac
[ "$attempts" -ge 1 ] || attempts=1

# Building the app reads the whole configuration but opens no connection, so a failure here is
# a setting to fix, not a database to wait for.
if ! "$PYTHON" -c "import flask_backend_with_aws"; then
  say "the configuration above is not usable; set the variables in the environment (or in .env"
  say "when running from a checkout) and start again. Nothing was migrated."
  exit 78
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
attempt=1
while :; do
  if "$PYTHON" -m flask db upgrade >"$log" 2>&1; then
    cat "$log" >&2
    say "database migrated (attempt $attempt of $attempts)"
    break
  fi
  # The last line naming an error is the driver's reason; tracebacks would bury it.
  reason=$(grep -E 'Error|error' "$log" | grep -v '^(Background on this error' | tail -n 1)
  [ -n "$reason" ] || reason=$(tail -n 1 "$log")
  if [ "$attempt" -ge "$attempts" ]; then
    say "migration attempt $attempt of $attempts failed: $reason"
    say "giving up: the database could not be migrated after $attempts attempts."
    say "\`flask doctor\` (same environment) names the step that fails and its fix:"
    "$PYTHON" -m flask doctor >&2 || true
    exit 69
  fi
  say "migration attempt $attempt of $attempts failed: $reason; retrying in ${delay} s"
  sleep "$delay"
  attempt=$((attempt + 1))
  delay=$((delay * 2))
  [ "$delay" -le "$max_delay" ] || delay=$max_delay
done

rm -f "$log"
trap - EXIT
exec "$@"
