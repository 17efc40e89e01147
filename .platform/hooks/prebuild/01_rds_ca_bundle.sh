#!/bin/bash
# Elastic Beanstalk (Amazon Linux 2023) runs this as root on each instance before the app is set
# up: fetch the RDS certificate bundle, so DATABASE_SSL_CA=/etc/pki/tls/certs/rds-global-bundle.pem
# works without putting the file in the source bundle. An existing copy is kept if AWS is
# unreachable (TLS then still works with the previous bundle).
set -euo pipefail
url=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
target=/etc/pki/tls/certs/rds-global-bundle.pem
if curl --fail --silent --show-error --location --retry 3 --max-time 30 -o "$target.new" "$url"; then
  mv "$target.new" "$target"
  chmod 644 "$target"
elif [ -s "$target" ]; then
  rm -f "$target.new"
  echo "could not download $url; keeping the existing $target" >&2
else
  echo "could not download $url, and there is no earlier copy at $target" >&2
  exit 1
fi
