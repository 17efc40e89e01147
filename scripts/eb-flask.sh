#!/bin/bash
# On an Elastic Beanstalk instance (eb ssh, or Session Manager), run a `flask` command with the
# environment's properties, as the web process sees them:
#   sudo /var/app/current/scripts/eb-flask.sh doctor
#   sudo /var/app/current/scripts/eb-flask.sh users create alice --role admin
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/eb-env.sh
exec python -m flask "$@"
