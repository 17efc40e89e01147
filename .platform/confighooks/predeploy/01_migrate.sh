#!/bin/bash
# A configuration-only update (say, a new DATABASE_URL) migrates like an application deployment.
exec /bin/bash "$(dirname "$0")/../../hooks/predeploy/01_migrate.sh"
