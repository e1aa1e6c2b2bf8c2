# Two commands: `make run` (start the app) and `make test` (the whole offline suite).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first, from the local wheel: otherwise pip pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/tunesmith ui

test: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check agent tools ui prompts tests bench

bench: $(STAMP)
	$(PY) bench/bench_training.py

clean:
	rm -rf $(VENV) .pytest_cache
