# Developer entry points. `make plan` and `make test` are the README's two commands.
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= staging

.PHONY: setup system-deps plan test lint typecheck unit bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# Debian packages the tests drive as real tools and servers (needs root or sudo).
system-deps:
	bash scripts/install-system-deps.sh

plan: setup
	$(PY) -m ops plan --stack $(STACK)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/pyright

unit: setup
	$(PY) -m pytest -q

test: system-deps lint typecheck unit

bench: setup
	$(PY) benchmarks/plan_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
