# Developer shortcuts. The README's commands are the source of truth; these wrap them.
PYTHON ?= python3
VENV ?= .venv
# Python versions whose native wheels go into the single executable.
ZIPAPP_PYTHONS ?= 3.11 3.12 3.13

.PHONY: setup lint test generate zipapp bench clean

setup:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[test,lint,build]'

lint:
	$(VENV)/bin/ruff check opfleet
	$(VENV)/bin/mypy

test:
	$(VENV)/bin/python -m pytest -q

generate:
	$(VENV)/bin/python -m opfleet.cli.generate

zipapp:
	$(VENV)/bin/python .ci/build_zipapp.py --pythons "$(ZIPAPP_PYTHONS)"

bench:
	$(VENV)/bin/python bench/startup.py
	$(VENV)/bin/python bench/protocol.py
	$(VENV)/bin/python bench/rlp_codecs.py
	$(VENV)/bin/python bench/derive.py
	$(VENV)/bin/python bench/follow.py
	$(VENV)/bin/python bench/catchup.py
	$(VENV)/bin/python bench/supernode.py
	$(VENV)/bin/python bench/tui.py
	$(VENV)/bin/python bench/fleet.py
	$(VENV)/bin/python bench/proxy.py
	$(VENV)/bin/python bench/gossip.py

clean:
	rm -rf build dist
