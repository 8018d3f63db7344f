# One command to try vidp (make demo), one to test it (make test).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Offline machines cannot download yolo11n.pt: use the team's real COCO weights when they are there.
SHARED_WEIGHTS := $(wildcard ../shared/models/yolov8n_int8.tflite)
ifneq ($(SHARED_WEIGHTS),)
export VIDP_DETECTOR_WEIGHTS ?= $(abspath $(SHARED_WEIGHTS))
endif
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install install-test debian-packages check demo test prefect-schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[offline]'

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

demo: install
	$(BIN)/vidp demo

debian-packages:
	tests/debian-packages.sh

# Prefect's empty schema for the Prefect installed, which a new PREFECT_HOME's temporary API
# starts from (cli/temporary_api.py): make it again after upgrading Prefect (a test says so).
prefect-schema: install
	rm -f vidp/assets/prefect-*.db
	$(BIN)/python -m vidp.cli.temporary_api --make-schema

# The static checks CI runs before the tests: lint and format, then the layers and the types of
# the package as it installs (the layers' folders are vidp.flows, vidp.tasks, ... only there).
INSTALLED := build/installed
check: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf build  # setuptools would reuse build/lib, deleted modules included
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --target $(INSTALLED) .
	cd $(INSTALLED) && PYTHONPATH=. $(abspath $(BIN))/lint-imports $(CURDIR)/pyproject.toml
	cd $(INSTALLED) && $(abspath $(BIN))/mypy --config-file $(CURDIR)/pyproject.toml

# The suite on two processes, each with servers of its own (pytest-xdist; a module stays on one,
# in collection order: the longest first); then the tests that measure latency, alone.
test: debian-packages check
	$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder -m "not timing" --durations=10
	$(BIN)/python -m pytest -m timing --durations=4
