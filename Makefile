# One venv, pinned torch pair, the project in editable mode.
#   make run  : set up and run the main job (the quick replication pipeline, <= 20 min on 2 cores)
#   make test : set up and run the tests (unit tests + the smoke pipeline through dvc.yaml + output checks)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup run resume test unit smoke full bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[pipeline,test,distributed]'
	# the source notebooks are edited in JupyterLab and saved with outputs; git stores them without (.gitattributes)
	# (--keep-id: the notebooks' stable cell ids stay as written; nbstripout --install would renumber them)
	-git rev-parse --git-dir >/dev/null 2>&1 && \
	  git config filter.nbstripout.clean "'$(abspath $(PY))' -m nbstripout --keep-id" && \
	  git config filter.nbstripout.smudge cat && \
	  git config diff.ipynb.textconv "'$(abspath $(PY))' -m nbstripout -t --keep-id"
	# the fused BatchNorm+ELU kernel compiles once per machine (about a minute): at set-up, not inside the first run
	-$(PY) -W ignore -c 'import gramlib.fused as f; print(f.status())'
	touch $(STAMP)

# regenerate the quick results from scratch (committed copies are replaced: `git diff results/quick`
# then shows how this machine's run differs); `make resume` continues an interrupted run instead
run: setup
	$(PY) -m gramlib.pipeline --check --scale quick
	rm -rf results/quick data/checkpoints/quick
	dvc repro --glob '*@quick'

resume: setup
	$(PY) -m gramlib.pipeline --check --scale quick
	dvc repro --glob '*@quick'

test: setup smoke
	$(PY) -m pytest -q

unit: setup
	$(PY) -m pytest -q --ignore=tests/test_pipeline_outputs.py

# smoke results are not committed (results/smoke is ignored), so neither are their dvc.lock entries:
# the lock is put back as it was, and `make test` leaves `git status` clean
smoke: setup
	$(PY) -m gramlib.pipeline --check --scale smoke
	@mkdir -p .dvc/tmp && cp dvc.lock .dvc/tmp/dvc.lock.before-smoke
	dvc repro --glob '*@smoke'; rc=$$?; cp .dvc/tmp/dvc.lock.before-smoke dvc.lock; exit $$rc

# the real replication on 2 CPU cores: about a working day; every stage resumes after an interruption
full: setup
	$(PY) -m gramlib.pipeline --check --scale cpu
	dvc repro --glob '*@cpu'

bench: setup
	$(PY) benchmarks/search_speed.py --profiles smoke cpu --iterations 20

clean-venv:
	rm -rf $(VENV)
