# Two commands set everything up on a fresh machine:
#   make run    virtualenv + install + .env + migrate, then serve on HOST:PORT (127.0.0.1:5000)
#   make test   virtualenv + install + .env, then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DOTENV := $(BIN)/dotenv -f .env run --no-override --

.PHONY: run test bench serve lint install clean-venv help

help:
	@echo "make run    - set up and start the portal (SQLite by default)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make serve  - run the production configuration locally under gunicorn"
	@echo "make lint   - ruff over the code and the tests"

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP) .env

.env:
	cp .env.example .env
	@echo "Created .env from .env.example"

run: install
	$(DOTENV) $(BIN)/flask db upgrade
	$(DOTENV) $(BIN)/flask users setup-link
	$(DOTENV) sh -c 'exec $(BIN)/flask run --host "$${HOST:-127.0.0.1}" --port "$${PORT:-5000}"'

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check app config.py flask_backend_with_aws.py migrations/env.py tests bench examples

bench: install
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
