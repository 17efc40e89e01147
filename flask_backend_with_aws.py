"""WSGI entry point: gunicorn and Elastic Beanstalk look for `application` here."""

import sys

from dotenv import load_dotenv

from app import create_app
from config import PROJECT_ROOT, ConfigError

load_dotenv(PROJECT_ROOT / ".env")

try:
    application = create_app()
except ConfigError as exc:
    # One clear sentence instead of a traceback, for gunicorn and the flask command alike.
    sys.exit(f"Configuration error: {exc}")
app = application
