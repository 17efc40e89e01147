# The portal in production: gunicorn behind a load balancer, the database on RDS.
#   docker build -t portal .
#   docker run --rm -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=mysql+pymysql://... portal
# The entrypoint migrates the database (with retries) before gunicorn starts; see
# docker/entrypoint.sh and docs/deploy-aws.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    APP_ENV=production \
    FLASK_APP=flask_backend_with_aws \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

RUN groupadd --system portal \
    && useradd --system --gid portal --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin portal

# The RDS certificate bundle, so DATABASE_SSL_CA=/app/certs/rds-global-bundle.pem works as is.
# An offline build can skip it: --build-arg RDS_CA_BUNDLE_URL=
ARG RDS_CA_BUNDLE_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
RUN mkdir -p certs \
    && if [ -n "$RDS_CA_BUNDLE_URL" ]; then \
         python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])" \
           "$RDS_CA_BUNDLE_URL" certs/rds-global-bundle.pem; \
       fi

# The runtime requirements only (the same requirements.txt as `make run` and Elastic Beanstalk;
# tests and tools are in requirements-dev.txt, never installed here); a layer of its own so a
# code change does not reinstall every package.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The code belongs to root and is read-only for the server; only instance/ (the default
# document folder, should DOCUMENT_STORAGE be unset) is the portal user's.
COPY . .
RUN mkdir -p instance && chown portal:portal instance

USER portal
EXPOSE 8000

# slim has no curl: ask /healthz with Python. 503 (database down) or no answer = unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)" || exit 1

# sh runs the script even if a checkout lost its executable bit; the script execs gunicorn,
# so gunicorn becomes PID 1 and shuts down gracefully on `docker stop`.
ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "flask_backend_with_aws:application"]
