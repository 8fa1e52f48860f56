# Developer entry points. Everything runs from the project's own virtualenv,
# which is (re)built whenever pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The peers that bench-peers compares with live in a virtualenv of their own.
PEERS_VENV := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed
PEERS_REQUIREMENTS := benchmarks/peers/requirements.txt
PEERS_CONSTRAINTS := benchmarks/peers/constraints.txt
PYTEST_ARGS ?=

.PHONY: venv install demo test bench bench-peers chaos lint docs clean distclean

venv install: $(STAMP)

# The directory target lets `make .venv` work too; the stamp records the install.
$(VENV): $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/htdag run "compare durable workflows with task queues"

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# procrastinate and LangGraph (PostgresSaver) beside htdag, same server, same run.
bench-peers: $(STAMP) $(PEERS_STAMP)
	$(BIN)/python benchmarks/bench_peers.py

$(PEERS_STAMP): $(PEERS_REQUIREMENTS) $(PEERS_CONSTRAINTS)
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install -r $(PEERS_REQUIREMENTS) -c $(PEERS_CONSTRAINTS)
	touch $(PEERS_STAMP)

# Hundreds of SIGKILLed workers, then an audit (benchmarks/chaos.py; ~10 min on 2 cores).
chaos: $(STAMP)
	$(BIN)/python benchmarks/chaos.py --kills 300

lint: $(STAMP)
	$(BIN)/ruff check htdag tests benchmarks examples
	$(BIN)/mypy

# The docs site (mkdocs.yml, docs/), built offline into site/; the tests build it too.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf build dist site *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . \( -path ./$(VENV) -o -path ./$(PEERS_VENV) \) -prune -o -name __pycache__ -type d \
		-prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(PEERS_VENV)
