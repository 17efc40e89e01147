# Sourced (bash) by the Elastic Beanstalk hooks and scripts/eb-flask.sh: give this shell what
# EB gives the web process. Environment properties (SECRET_KEY, DATABASE_URL, ...) are not
# exported to hooks or SSH sessions, so read them from EB's own tool; then activate the
# virtualenv EB built from requirements.txt. EB_GET_CONFIG and EB_VENV exist for
# tests/test_deploy.py, which runs this outside EB.
get_config=${EB_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}
eb_exports=$("$get_config" environment | python3 -c '
import json, shlex, sys
for name, value in json.load(sys.stdin).items():
    if name.isidentifier():
        print(f"export {name}={shlex.quote(value)}")
')
eval "$eb_exports"
unset eb_exports

venv=${EB_VENV:-$(ls -d /var/app/venv/* | head -n 1)}
# shellcheck disable=SC1091
source "$venv/bin/activate"
export PYTHON=python
