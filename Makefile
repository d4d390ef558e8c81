# Developer entry points. `make plan` and `make test` are the README's two commands.
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= staging

.PHONY: setup system-deps plan check test lint imports typecheck tests rehearsal bench bench-backup clean

# A cold setup takes about a minute, nearly all of it pip: each step says what it does and
# pip shows what it fetches, so the wait is never silent.
$(VENV)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	@echo "setup: creating $(VENV) (python3 -m venv) if missing"
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "setup: upgrading pip in $(VENV)"
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "setup: installing requirements-dev.txt into $(VENV) (about a minute on a fresh clone)"
	$(PY) -m pip install --progress-bar off -r requirements-dev.txt
	@touch $@
	@echo "setup: $(VENV) is ready"

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
# server or process: those are marked slow). Needs no root and no Debian package
# (tests/unit/test_readme.py holds it to that).
check: lint imports
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not slow" tests/unit tests/program

typecheck: setup
	$(VENV)/bin/pyright

# Every test layer, the integration tests with real tools and servers included; the tests that
# need a Docker engine and the stand-in images run in `make rehearsal`, which has both.
# Two workers (each test's servers listen on ports of their own; runs of the program are
# shared between workers, tests/conftest.py): 185 s instead of 346 s on 2 cores.
tests: setup
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not docker"

# The stack's containers on a real Docker engine (stand-in images, docker-compose, every
# check in build/rehearsal.json). Starts dockerd for the run when none answers (needs root).
rehearsal: setup
	bash scripts/with-docker.sh sh -c '$(PY) -m rehearsal --stack $(STACK) && $(PY) -m pytest -q -m docker tests'

test: system-deps lint imports typecheck tests rehearsal

bench: setup
	$(PY) benchmarks/plan_speed.py

# The backup drill: 1 GB base + 1 GB WAL inside the postgres image (needs root, the Docker
# engine and the image `make rehearsal` builds; 30 to 50 minutes on 2 cores). build/drill.json.
bench-backup: setup
	$(PY) benchmarks/backup_drill.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
