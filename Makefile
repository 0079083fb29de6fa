# Every target sets up .venv when it is missing, so a fresh clone needs only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench mutation lint spec clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/jsonchat serve

CODE := protocol engine transport conformance tests benchmarks

lint: $(STAMP)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/ruff check $(CODE)
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

# How strong the suite is: engine mutants judged by the suite, then the fuzzer (about 35 min).
# MUTATION_ARGS='--sample 0' judges every mutant; '--only ID' one of them.
mutation: $(STAMP)
	$(BIN)/python -m benchmarks.mutation $(MUTATION_ARGS)

spec: $(STAMP)
	$(BIN)/jsonchat spec render

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
