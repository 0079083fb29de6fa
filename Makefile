# Every target sets up .venv when it is missing, so a fresh clone needs only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench bench-baseline mutation valgrind redis chromium lint spec clean

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
	$(BIN)/lint-imports

# Wheels of jsonchat's dependencies: tests/install installs the wheel it builds into a fresh venv
# from these, so it needs no network after this (see tests/install/wheelhouse.py).
WHEELHOUSE := $(VENV)/wheelhouse/.filled

$(WHEELHOUSE): $(STAMP)
	$(BIN)/python -m tests.install.wheelhouse
	touch $@

test: lint valgrind chromium redis $(WHEELHOUSE)
	$(BIN)/python -m pytest

bench: $(STAMP) valgrind redis
	$(BIN)/python -m benchmarks.run_all

# After a change meant to cost (or save) engine instructions: rewrite the baseline the tests hold.
bench-baseline: $(STAMP) valgrind
	$(BIN)/python -m benchmarks.instructions_bench --update-baseline

# Callgrind counts the engine's instructions (benchmarks/instructions_bench.py): from Debian.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
valgrind:
	@command -v valgrind >/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q valgrind; }

# The HTML reports are checked in a real browser (tests/report, driven by playwright): Debian's.
chromium:
	@command -v chromium >/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

# Redis pub/sub is what the fan-out is measured against (benchmarks/redis_bench.py), and the
# cluster's tests (tests/cluster/) run real redis-server processes: from Debian.
redis:
	@command -v redis-server >/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q redis-server; }
# How strong the suite is: engine mutants judged by the suite, then the fuzzer (about 35 min).
# MUTATION_ARGS='--sample 0' judges every mutant; '--only ID' one of them.
mutation: $(STAMP)
	$(BIN)/python -m benchmarks.mutation $(MUTATION_ARGS)

spec: $(STAMP)
	$(BIN)/jsonchat spec render

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
