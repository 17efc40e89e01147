# Two commands set everything up on a fresh machine:
#   make run    virtualenv + install + .env + migrate, then serve on HOST:PORT (127.0.0.1:5000)
#   make test   virtualenv + install + .env, then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DOTENV := $(BIN)/dotenv -f .env run --no-override --

.PHONY: run test bench serve install clean-venv help

help:
	@echo "make run    - set up and start the portal (SQLite by default)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make serve  - run the production configuration locally under gunicorn"

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

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

serve: install
	$(DOTENV) $(BIN)/flask db upgrade
	$(DOTENV) $(BIN)/gunicorn -c gunicorn.conf.py flask_backend_with_aws:application

clean-venv:
	rm -rf $(VENV)
