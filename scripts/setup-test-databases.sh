#!/usr/bin/env bash
# Create the project's own MariaDB user and test databases (root works over the unix socket),
# start MariaDB / PostgreSQL if they are down, and print the URLs to export.
# Usage: eval "$(scripts/setup-test-databases.sh)"
set -euo pipefail

MYSQL_USER=${MYSQL_TEST_USER:-portal_test}
MYSQL_PASSWORD=${MYSQL_TEST_PASSWORD:-portal_test_pw}
MYSQL_DB=${MYSQL_TEST_DB:-portal_test}
PG_DB=${PG_TEST_DB:-test}

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 30); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "$name did not come up" >&2; return 1
}

if ! mariadb -e "SELECT 1" >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >&2 || true
  wait_for MariaDB mariadb -e "SELECT 1"
fi
mariadb <<SQL
CREATE DATABASE IF NOT EXISTS \`${MYSQL_DB}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'localhost' IDENTIFIED BY '${MYSQL_PASSWORD}';
CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'127.0.0.1' IDENTIFIED BY '${MYSQL_PASSWORD}';
ALTER USER '${MYSQL_USER}'@'localhost' IDENTIFIED BY '${MYSQL_PASSWORD}';
ALTER USER '${MYSQL_USER}'@'127.0.0.1' IDENTIFIED BY '${MYSQL_PASSWORD}';
GRANT ALL PRIVILEGES ON \`${MYSQL_DB}\`.* TO '${MYSQL_USER}'@'localhost';
GRANT ALL PRIVILEGES ON \`${MYSQL_DB}\`.* TO '${MYSQL_USER}'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`${MYSQL_DB}\_%\`.* TO '${MYSQL_USER}'@'localhost';
GRANT ALL PRIVILEGES ON \`${MYSQL_DB}\_%\`.* TO '${MYSQL_USER}'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL

if ! psql -h 127.0.0.1 -U postgres -d "$PG_DB" -c "SELECT 1" >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start >&2 || true
  wait_for PostgreSQL psql -h 127.0.0.1 -U postgres -d "$PG_DB" -c "SELECT 1"
fi

echo "export TEST_MYSQL_URL='mysql+pymysql://${MYSQL_USER}:${MYSQL_PASSWORD}@127.0.0.1:3306/${MYSQL_DB}'"
echo "export TEST_POSTGRES_URL='postgresql+psycopg://postgres@127.0.0.1:5432/${PG_DB}'"
