# Two entry points for a fresh machine:
#   make demo   set up, then build the demo map (open it with: make serve)
#   make test   set up, then run the whole test suite
# Everything else here is what those two need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= 2

.PHONY: demo test setup serve report clean-results

demo: setup
	$(BIN)/snakemake --cores $(CORES)
	@echo "Map built: run 'make serve' and open http://127.0.0.1:8000/"

test: setup browser
	$(BIN)/python -m pytest

setup: $(VENV)/.installed node_modules/leaflet/dist/leaflet.js

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,cluster]"
	touch $@

node_modules/leaflet/dist/leaflet.js: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Headless Chromium for the viewer's browser tests (Debian package; skipped where apt is absent).
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

serve:
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory results/viewer 8000

report:
	$(BIN)/snakemake --cores $(CORES) --report report.html

clean-results:
	rm -rf results logs .snakemake resources/demo
