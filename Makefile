# Two commands: `make run` (start the app) and `make test` (the whole offline suite).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test test-real lint bench clean

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

# The built-in model trained for real on the CPU (minutes): a held-out gain, not a smoke test.
test-real: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False $(PY) -m pytest -q -m realmodel -s

lint: $(STAMP)
	$(VENV)/bin/ruff check agent tools ui prompts tests bench

bench: $(STAMP)
	$(PY) bench/bench_training.py --example
	$(PY) bench/bench_advice.py
	$(PY) bench/bench_scale.py
	$(PY) bench/bench_twins.py
	$(PY) bench/bench_memory.py
	$(PY) bench/bench_suite.py
	$(PY) bench/bench_improve.py
	$(PY) bench/bench_rag_ft.py
	$(PY) bench/bench_review_browser.py

clean:
	rm -rf $(VENV) .pytest_cache
