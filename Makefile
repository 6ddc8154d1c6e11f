# genzoo — the two commands a new user needs:
#   make demo   create .venv, install genzoo, train the `fast` GAN on the embedded MNIST subset (5 min), write samples
#   make test   create .venv, install genzoo with test extras, run the test suite (all but the slow tests)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# This exact torch takes the local CPU wheel on genzoo's build machines; elsewhere any torch>=2.2 works.
TORCH   ?= torch==2.13.0
DATA    ?= $(abspath ../shared/data)
DEMO_MINUTES ?= 5

.PHONY: demo test test-slow install clean

$(BIN)/genzoo: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test]"
	touch $(BIN)/genzoo

install: $(BIN)/genzoo

demo: install
	rm -rf runs/demo
	$(BIN)/genzoo train fast --dataset embedded --minutes $(DEMO_MINUTES) --out runs/demo
	$(BIN)/genzoo sample runs/demo --n 64 --out runs/demo/final_samples.png
	$(BIN)/genzoo evaluate runs/demo --n 5000
	@echo "samples: runs/demo/final_samples.png   training progress: runs/demo/progress.gif   metrics: runs/demo/metrics.json"

# SEED_OFFSET shifts every seed the tests use (make test SEED_OFFSET=2); the suite must pass with 0..3
SEED_OFFSET ?= 0
PYTEST_ARGS ?= --durations=15

test: install
	GENZOO_DATA="$(DATA)" GENZOO_OFFLINE=1 GENZOO_TEST_SEED_OFFSET=$(SEED_OFFSET) $(BIN)/python -m pytest $(PYTEST_ARGS)

# the quality claims that need full training runs (tens of minutes on 2 cores)
test-slow: install
	GENZOO_DATA="$(DATA)" GENZOO_OFFLINE=1 GENZOO_TEST_SEED_OFFSET=$(SEED_OFFSET) $(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs build dist src/*.egg-info
