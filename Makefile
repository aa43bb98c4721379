# One venv, pinned torch pair, the project in editable mode.
# `make run` : set up and run the main job;  `make test` : set up and run the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[pipeline,test]'
	touch $(STAMP)

# main job: a cpu-profile GRAM search on the CIFAR-10 proxy set (about an hour on 2 cores);
# resumable: rerunning continues where an interrupted run stopped
run: setup
	$(VENV)/bin/gramlib search --profile cpu --out results/search/cpu

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/search_speed.py --profiles smoke cpu --iterations 20

clean-venv:
	rm -rf $(VENV)
