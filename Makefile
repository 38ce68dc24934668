# auditwatch: `make demo` runs the incident demo, `make test` the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench fuzz clean

install: $(STAMP)

# Re-runs only when pyproject.toml changes; a no-op (fast) otherwise.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: install
	@$(BIN)/auditwatch demo

test: install
	@$(BIN)/python -m pytest -q

bench: install
	@$(BIN)/auditwatch bench pipeline
	@$(BIN)/auditwatch bench sql
	@$(BIN)/auditwatch bench rules
	@$(BIN)/auditwatch bench sources
	@$(BIN)/auditwatch bench identity
	@$(BIN)/auditwatch bench guard

# the fuzz suite with many more examples than CI runs (minutes, not seconds)
fuzz: install
	@AUDITWATCH_FUZZ_EXAMPLES=5000 AW_FUZZ_EXAMPLES=50000 $(BIN)/python -m pytest -q tests/fuzz tests/detectors/test_sql_properties.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
