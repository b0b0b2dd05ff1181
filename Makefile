# `make demo` and `make test` each set up .venv from nothing (only python3 is needed).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# labextension/'s npm packages, exactly as package-lock.json pins them (npm ci).
NPM_STAMP := labextension/node_modules/.package-lock.json
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/jupyter-automl
DEMO_DIR ?= build/demo
# pytest processes: the real-kernel tests mostly wait (on kernels, epochs, servers), so more
# processes than cores shortens the suite without starving them.
JOBS ?= 4
export PATH := $(abspath $(VENV))/bin:$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: demo test check lint unit labext lab integration notebooks real docs bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# A `jupyter labextension develop` link would make pip write through it into the build.
	if [ -L $(LABEXT_LINK) ]; then rm $(LABEXT_LINK); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,dev,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/jupyter-automl run notebooks/01_quickstart.ipynb --output $(DEMO_DIR)/01_quickstart.ipynb --cwd $(DEMO_DIR)

# The quick parts side by side (each keeps its output together), then the long one alone.
test: $(STAMP)
	$(MAKE) -j4 --output-sync=target check
	$(MAKE) real
	$(MAKE) docs DOCS_TUTORIALS=--kept-only

# The inner loop: everything that starts no kernel, browser or training (about a minute).
check: lint unit labext lab

lint: $(STAMP) $(NPM_STAMP)
	$(VENV)/bin/ruff check jupyter_automl tests benchmarks
	$(VENV)/bin/mypy jupyter_automl
	$(VENV)/bin/lint-imports
	cd labextension && npm run lint:check

# After $(STAMP): the editable install's build runs npm install in labextension/ too.
$(NPM_STAMP): labextension/package.json labextension/package-lock.json | $(STAMP)
	cd labextension && npm ci

# The JupyterLab extension's Jest tests (pure modules and React views, no browser): seconds.
labext: $(NPM_STAMP)
	cd labextension && npm test

# tests/lab: the server extension against a real Jupyter server (pytest-jupyter), in a pytest
# of its own so that the plugin's autouse fixtures stay away from the other tests.
lab: $(STAMP)
	$(PY) -m pytest -q -p pytest_jupyter.jupyter_server tests/lab

# tests/unit starts nothing (no kernel, server, browser or Keras training): seconds.
unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

# tests/integration: real kernels, gateways, PostgreSQL, papermill, Chromium, kill -9.
integration: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) --durations=10 tests/integration

# nbval runs copies, so each run starts the tutorials' studies from nothing.
NBVAL_COPY := rm -rf build/nbval && mkdir -p build && cp -r notebooks build/nbval && rm -rf build/nbval/automl_runs
notebooks: $(STAMP)
	$(NBVAL_COPY)
	PYTHONPATH=tests $(PY) -m pytest -q -p no:cacheprovider -p nbval_outputs --nbval-lax build/nbval

# tests/integration and the tutorials in one pool of pytest processes: the suite is bound by the
# two cores, and a tutorial's kernel mostly waits on one of them, so run apart the tutorials
# leave a core idle. Each tutorial stays in one process, its cells in order (tests/conftest.py's
# scheduler for --dist loadscope).
real: $(STAMP)
	$(NBVAL_COPY)
	$(PY) -m pytest -q -p no:cacheprovider -n $(JOBS) --dist loadscope --nbval-lax \
		--durations=30 tests/integration build/nbval

# The documentation site (docs/) into build/docs/html: the tutorials rendered from executed
# copies (build/executed/, which make real and make notebooks leave there; those missing or
# older than their notebook are run first with jupyter-automl run), Sphinx with warnings as
# errors, then every internal link and anchor of the built site checked (docs/check_links.py).
# External links need the network: DOCS_LINKCHECK_EXTERNAL=1 checks them too.
# (make test passes DOCS_TUTORIALS=--kept-only: there make real has left every tutorial's copy.)
DOCS_HTML := build/docs/html
DOCS_TUTORIALS ?=
docs: $(STAMP)
	$(PY) docs/tutorials.py $(DOCS_TUTORIALS)
	rm -rf $(DOCS_HTML) build/docs/doctrees
	$(VENV)/bin/sphinx-build -W --keep-going -q -j 2 -b html -d build/docs/doctrees docs $(DOCS_HTML)
	$(PY) docs/check_links.py $(DOCS_HTML)
	if [ "$(DOCS_LINKCHECK_EXTERNAL)" = 1 ]; then \
		$(VENV)/bin/sphinx-build -W --keep-going -q -b linkcheck -d build/docs/doctrees docs build/docs/linkcheck; fi

bench: $(STAMP)
	$(PY) benchmarks/overhead.py

# The randomized fault campaign (benchmarks/chaos.py): RUNS runs drawn from SEED.
RUNS ?= 200
SEED ?= 1
chaos: $(STAMP)
	$(PY) benchmarks/chaos.py --runs $(RUNS) --seed $(SEED)

clean:
	rm -rf build $(VENV) docs/tutorials/*.ipynb
