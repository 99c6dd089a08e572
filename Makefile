# The two commands of the README: `make run` and `make test`. Both bootstrap everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.neuroreview-installed
export QT_QPA_PLATFORM ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY),,offscreen)

.PHONY: run test lint typecheck layers pytest bench package clean sysdeps sysdeps-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

sysdeps:
	@bash scripts/ensure_system_libs.sh runtime

sysdeps-test:
	@bash scripts/ensure_system_libs.sh test

run: $(STAMP) sysdeps
	$(VENV)/bin/neuroreview $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy core training desktop_app

layers: $(STAMP)
	$(VENV)/bin/lint-imports

pytest: $(STAMP) sysdeps sysdeps-test
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck layers pytest

bench: $(STAMP) sysdeps
	QT_QPA_PLATFORM=offscreen $(PY) -m bench.run

# One-folder package dist/NeuroReview (build.spec), then its own self-test and its size.  Without exported
# weights in weights/, run as `NEUROREVIEW_WEIGHTS_DIR=/path/to/weights make package`.
package: $(STAMP) sysdeps
	rm -rf build/build dist/NeuroReview
	@start=$$(date +%s); $(VENV)/bin/pyinstaller --noconfirm --clean build.spec && \
		echo "package: built in $$(( $$(date +%s) - start )) s"
	QT_QPA_PLATFORM=offscreen dist/NeuroReview/neuroreview --self-test
	@du -sh dist/NeuroReview

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
