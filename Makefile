# Two commands set everything up on a fresh machine:
#   make run    virtualenv + install + .env + migrate, then serve on HOST:PORT (127.0.0.1:5000)
#   make test   virtualenv + install (with the development tools) + .env, then the whole suite
# requirements.txt is what the portal needs to run (make run, make serve, the Docker image);
# requirements-dev.txt adds tests, linters and benchmarks (make test, make lint, make bench).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
# Test processes: one per CPU (pytest-xdist), each with its own databases; PYTEST_WORKERS=0 runs
# the suite in one process.
PYTEST_WORKERS ?= auto
DOTENV := $(BIN)/dotenv -f .env run --no-override --

.PHONY: run test bench serve lint install install-dev clean-venv help

help:
	@echo "make run    - set up and start the portal (SQLite by default)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make serve  - run the production configuration locally under gunicorn"
	@echo "make lint   - ruff and mypy over the code and the tests"

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP) $(DEV_STAMP)

install: $(STAMP) .env

install-dev: $(DEV_STAMP) .env

.env:
	cp .env.example .env
	@echo "Created .env from .env.example"

run: install
	$(DOTENV) $(BIN)/flask db upgrade
	$(DOTENV) $(BIN)/flask users setup-link
	$(DOTENV) sh -c 'exec $(BIN)/flask run --host "$${HOST:-127.0.0.1}" --port "$${PORT:-5000}"'

test: install-dev
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

LINT_PATHS = app config.py flask_backend_with_aws.py migrations tests bench examples

lint: install-dev
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

# What the container runs (docker/entrypoint.sh: check the configuration, migrate with retries,
# then gunicorn with gunicorn.conf.py), with APP_ENV=production and .env for the rest.
serve: install
	@APP_ENV=production PYTHON=$(BIN)/python $(DOTENV) sh docker/entrypoint.sh \
		$(BIN)/gunicorn -c gunicorn.conf.py flask_backend_with_aws:application \
	|| { status=$$?; [ $$status -ne 78 ] || echo "make serve runs APP_ENV=production: put SECRET_KEY \
	and DATABASE_URL in .env (to try it on this machine: DATABASE_URL=sqlite:///instance/portal.db)." >&2; \
	exit $$status; }

clean-venv:
	rm -rf $(VENV)
