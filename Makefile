# Two entry points for a fresh Debian machine with Python 3.10+:
#   make demo   push/pull against a local registry this starts itself
#   make test   ruff, mypy and the whole pytest suite against real registries
#   make unit   the fast tests only (unit and integration, without those marked slow), for while you work
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test unit demo lint typecheck registry-bin skopeo-bin bench-tools bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# Debian's docker-registry package is the CNCF distribution registry the tests and the demo run.
registry-bin:
	@command -v docker-registry >/dev/null 2>&1 || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y docker-registry; }

# Real skopeo: the interop tests check that it reads the layouts dxf writes, and dxf reads its.
skopeo-bin:
	@command -v skopeo >/dev/null 2>&1 || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y skopeo; }

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

# mypy --strict on src/dxf and tests (the files listed in pyproject.toml): the tests hold to the same bar.
typecheck: $(STAMP)
	$(BIN)/mypy

# The reliability table in README.md names tests; the check fails if one of them did not run and pass.
test: $(STAMP) registry-bin skopeo-bin lint typecheck
	$(BIN)/pytest -q
	$(BIN)/python scripts/reliability_table.py --check

unit: $(STAMP) registry-bin skopeo-bin
	$(BIN)/pytest -q -m "not slow"

demo: $(STAMP) registry-bin
	$(BIN)/python scripts/demo.py

# The benchmarks compare against curl and read peak RSS with GNU time.
bench-tools:
	@{ command -v curl >/dev/null 2>&1 && [ -x /usr/bin/time ]; } || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y curl time; }

bench: $(STAMP) registry-bin skopeo-bin bench-tools
	$(BIN)/python bench/run.py

# Coverage-guided fuzzing of the parsers (atheris, libFuzzer): FUZZ_SECONDS per target, corpora kept in
# .fuzz/ between runs; a crash stops it, its input saved as .fuzz/crash-*. Not part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := challenge manifest reference digest link retry-after config
fuzz: $(STAMP)
	$(BIN)/pip install -q -e '.[fuzz]'
	@mkdir -p .fuzz
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p .fuzz/corpus-$$target; \
	  echo "== $$target ($(FUZZ_SECONDS) s)"; \
	  ( cd .fuzz && ../$(BIN)/python ../tests/fuzz/fuzz_parsers.py $$target corpus-$$target \
	      -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 \
	    | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+== ERROR|.*Uncaught Python exception)" ) ; \
	  [ -z "$$(ls .fuzz/crash-* 2>/dev/null)" ] || { echo "crash inputs in .fuzz/"; exit 1; }; \
	done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .fuzz
