# Entry points of the loyalty club suite. Every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROTOS := $(shell find protos -name '*.proto')
GENERATED := loyalty/.generated

.PHONY: install browser protos run test bench drills lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Python code generated from protos/ into loyalty/ (build output, ignored by git).
protos: $(GENERATED)

$(GENERATED): $(VENV)/.installed $(PROTOS)
	rm -rf loyalty
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)
	find loyalty -type d -exec touch {}/__init__.py \;
	touch $@

# Starts identity, points, campaigns and the gateway; Ctrl-C stops them all.
run: install protos
	$(PY) -m deploy.local

# Debian's Chromium, which the browser tests drive through Playwright (which never downloads a
# browser of its own). Installed with apt when missing and running as root.
browser:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	  echo "chromium is missing (apt-get install chromium); browser tests will be skipped"

# The whole suite against SQLite and against PostgreSQL, with real servers, Redis and a browser,
# in TEST_WORKERS processes (a test file's tests stay together in one).
TEST_WORKERS ?= 2
test: install protos browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The fast tier: no process started, well under a minute.
.PHONY: test-fast
test-fast: install protos
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# Scale runs on the machine's PostgreSQL, then the suite under till load on a million members
# (wrk, installed with apt when missing, drives it) against its floors: the same routes doing
# only their essential work under the same HTTP server; tables printed and written, with a plot,
# to bench-results/. About 15 minutes.
bench: install protos
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench.ledger_scale
	$(PY) -m bench.identify_latency
	$(PY) -m bench.member_view_scale
	$(PY) -m bench.club_glance_scale
	$(PY) -m bench.rewards_scale
	$(PY) -m bench.load
	$(PY) -m bench.member_import
	$(PY) -m bench.draw_close

# Fault drills under till load on a private PostgreSQL and Redis (about 4 minutes); a table of
# errors the tills saw, and proof that nothing was lost or doubled. `make test` runs a short form.
drills: install protos
	$(PY) -m bench.drills --replicas
	$(PY) -m bench.reward_drills

# ruff, then the import contracts of pyproject.toml (the boundaries ARCHITECTURE.md names).
lint: install protos
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf loyalty .pytest_cache .ruff_cache test-artifacts
