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

.PHONY: install install-test demo test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[offline]'

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

demo: install
	$(BIN)/vidp demo

test: install-test
	$(BIN)/python -m pytest
