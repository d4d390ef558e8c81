# Developer entry points. `make plan` and `make test` are the README's two commands.
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= staging

.PHONY: setup system-deps plan check test lint imports typecheck tests rehearsal bench bench-backup clean

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

# The import contracts of .importlinter: dependencies one way, no cycle.
imports: setup
	$(VENV)/bin/lint-imports --no-cache

# The inner loop: lint, import contracts, and the unit and program tests (no real tool,
# server or process: those are marked slow). Needs no root and no Debian package.
check: lint imports
	$(PY) -m pytest -q -n 2 -m "not slow" tests/unit tests/program

typecheck: setup
	$(VENV)/bin/pyright

# Every test layer, the integration tests with real tools and servers included.
tests: setup
	$(PY) -m pytest -q

# The stack's containers on a real Docker engine (stand-in images, docker-compose, every
# check in build/rehearsal.json). Starts dockerd for the run when none answers (needs root).
rehearsal: setup
	bash scripts/with-docker.sh $(PY) -m rehearsal --stack $(STACK)

test: system-deps lint imports typecheck tests rehearsal

bench: setup
	$(PY) benchmarks/plan_speed.py

# The backup drill: 1 GB base + 1 GB WAL inside the postgres image (needs root, the Docker
# engine and the image `make rehearsal` builds; 30 to 50 minutes on 2 cores). build/drill.json.
bench-backup: setup
	$(PY) benchmarks/backup_drill.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
