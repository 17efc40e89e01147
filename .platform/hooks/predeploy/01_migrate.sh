#!/bin/bash
# Elastic Beanstalk (Amazon Linux 2023) runs this as root on each instance after the new version
# is installed in /var/app/staging and before it replaces the running one: a failed migration
# aborts the deployment and the old version keeps serving. (.platform/confighooks runs it too,
# so a changed DATABASE_URL gets its tables on a configuration-only update.)
# The migration itself is docker/entrypoint.sh (configuration check, `flask db upgrade` with
# bounded retries, `flask doctor` on failure), the same as in the container; `true` stands in for
# the server, which EB starts from the Procfile.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the application's root, wherever EB runs the hook from
source scripts/eb-env.sh
exec /bin/sh docker/entrypoint.sh true
