# The two commands in the README are `make demo` and `make test`. Both work on a fresh
# machine with Python 3.11+, Java 17+ and Maven: they create .venv, install Watchkeeper into
# it, and start the local Kafka broker themselves (deploy/kafka/broker.sh).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test unit lint stress broker-start broker-stop schemas rules dashboards lock bench clean

# The demo needs Watchkeeper and what it runs on; the tests also need the test and lint tools.
$(BIN)/.runtime: pyproject.toml
	@echo "make: installing Watchkeeper into $(VENV) (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -e .
	touch $@

$(BIN)/.installed: $(BIN)/.runtime pyproject.toml
	@echo "make: installing the test and lint tools into $(VENV) (first run only)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(BIN)/.runtime          ## the main job: broker + worker + a short scenario; alerts within a minute
	$(BIN)/python -m devtools.demo $(if $(HOLD),--hold $(HOLD)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) \
	  $(if $(HISTORY),--history $(HISTORY))

test: lint $(BIN)/.installed   ## the full test suite, against the real broker (started by the tests)
	$(BIN)/pytest

unit: $(BIN)/.installed        ## the tests that need no broker
	$(BIN)/pytest -m "not broker"

stress: $(BIN)/.installed      ## the fault tests (kill -9 under load, receiver outages, broker restart), 5 times in a row
	for run in 1 2 3 4 5; do \
	  $(BIN)/pytest -q -s tests/integration/test_faults.py tests/integration/test_outages.py \
	    tests/integration/test_broker_restart.py || exit 1; \
	done

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

broker-start:
	deploy/kafka/broker.sh start

broker-stop:
	deploy/kafka/broker.sh stop

schemas: $(BIN)/.installed     ## regenerate docs/schemas from the event contract
	$(BIN)/watchkeeper schemas --out docs/schemas

rules: $(BIN)/.installed       ## regenerate docs/rules.md from the built-in policy packs
	$(BIN)/watchkeeper rules --out docs/rules.md

dashboards: $(BIN)/.installed  ## regenerate the Grafana dashboards in deploy/grafana/dashboards
	$(BIN)/python -m devtools.dashboards

lock: $(BIN)/.installed        ## regenerate requirements.lock (the image's dependencies, pinned with hashes)
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links \
	  --output-file=requirements.lock pyproject.toml

bench: $(BIN)/.installed        ## quick benchmarks; docs/performance.md has the full-size commands
	$(BIN)/python bench/validation.py
	$(BIN)/python bench/engine_replay.py --cases 20000
	$(BIN)/python bench/worker_broker.py --cases 2000 --probes 20

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
