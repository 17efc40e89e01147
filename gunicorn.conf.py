"""gunicorn settings shared by `make serve`, the Dockerfile and the Elastic Beanstalk Procfile.

Every value can be changed by an environment variable, so one file serves a laptop, a container
and an EC2 instance:

    HOST, PORT                  where to listen (default 127.0.0.1:8000; the container sets
                                HOST=0.0.0.0; Elastic Beanstalk's nginx forwards to 8000)
    WEB_CONCURRENCY             worker processes (default 2 x CPUs + 1, at most 8)
    GUNICORN_THREADS            threads per worker (default 4)
    GUNICORN_TIMEOUT            seconds a silent worker may take before it is restarted (60)
    GUNICORN_GRACEFUL_TIMEOUT   seconds in-flight requests get to finish on shutdown (30)
    GUNICORN_KEEPALIVE          seconds an idle keep-alive connection stays open (75)
    FORWARDED_ALLOW_IPS         proxies whose X-Forwarded-Proto gunicorn trusts (127.0.0.1,::1);
                                the app itself reads X-Forwarded-* through PROXY_FIX_COUNT

Each worker holds up to GUNICORN_THREADS database connections, so one host opens at most
WEB_CONCURRENCY x GUNICORN_THREADS connections: keep the sum over all hosts below the database's
max_connections (about 60 on the smallest RDS instances).
"""

import os
import sys

MAX_DEFAULT_WORKERS = 8


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        sys.exit(f"Configuration error: {name} must be a whole number, got {raw!r}.")


def _cpu_count() -> int:
    """CPUs this process may run on (a container's cpuset, not the host's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


bind = [f"{os.environ.get('HOST', '').strip() or '127.0.0.1'}:{_env_int('PORT', 8000)}"]
workers = _env_int("WEB_CONCURRENCY", min(2 * _cpu_count() + 1, MAX_DEFAULT_WORKERS))
# Requests mostly wait on the database, so a few threads per process serve more clerks per MB.
threads = _env_int("GUNICORN_THREADS", 4)
worker_class = "gthread"
timeout = _env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than the AWS load balancer's 60 s idle timeout: otherwise gunicorn may close a
# connection the balancer is about to reuse, and the clerk sees a 502.
keepalive = _env_int("GUNICORN_KEEPALIVE", 75)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1"

# Access log to stdout, one line per request, with the id the app puts in X-Request-ID so a
# line here can be matched with the app's own log line (stderr) and a 500 page.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'
loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"

# The heartbeat file on a container's overlay filesystem can stall workers; memory never does.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No gunicornc control socket: nothing uses it, and two servers on one host would share its path.
control_socket_disable = True


def on_starting(server) -> None:
    """Check the configuration once, before any worker starts.

    Without this, a missing SECRET_KEY makes every worker exit at import and gunicorn restarts
    them in a loop; here the master stops with the one-line reason instead.
    """
    from dotenv import load_dotenv

    from app import create_app
    from config import PROJECT_ROOT, ConfigError

    load_dotenv(PROJECT_ROOT / ".env")  # as flask_backend_with_aws does in each worker
    try:
        create_app()
    except ConfigError as exc:
        sys.exit(f"Configuration error: {exc}")
