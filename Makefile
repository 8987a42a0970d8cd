# The contract's commands: each creates .venv from nothing when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench clean redis-server chromium vendor-graphiql

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/citizen-graph serve

check: $(STAMP)
	$(BIN)/ruff format --check citizen_graph tests bench scripts
	$(BIN)/ruff check citizen_graph tests bench scripts
	$(BIN)/mypy

test: check redis-server chromium
	$(BIN)/pytest

# The shared-state tests start their own Redis on a free loopback port (tests/redis_server.py):
# Debian's server is installed when missing (CI runs on a fresh machine, as root).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian's redis-server"; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

# tests/e2e/test_graphiql.py drives GraphiQL in headless Chromium, offline: Debian's
# package is installed when missing, as redis-server is.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium"; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# GraphiQL's assets from their pinned npm releases into citizen_graph/graphiql/static/vendor/,
# with their sha256 in its manifest.json (needs npm). `$(PYTHON) scripts/vendor_graphiql.py --check`
# compares the vendored files with the releases without writing.
vendor-graphiql:
	$(PYTHON) scripts/vendor_graphiql.py

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
