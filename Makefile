# Two entry points for a fresh machine:
#   make demo   set up, then build the demo map (open it with: make serve)
#   make test   set up, then run the whole test suite
# Everything else here is what those two need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= 2

.PHONY: demo test lint setup system-packages serve report clean-results

demo: setup
	$(BIN)/snakemake --cores $(CORES)
	@echo "Map built: run 'make serve' and open http://127.0.0.1:8000/"

test: system-packages setup lint
	$(BIN)/python -m pytest

# The rule files formatted as snakefmt has them, and Snakemake's linter content, on the tiny
# .test/ config (also dry-run there, so a rule that cannot be planned fails here).
TEST_CONFIG := $(CURDIR)/.test/config/config.yaml
lint: setup
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --directory .test --configfile $(TEST_CONFIG)
	$(BIN)/snakemake -n --quiet --directory .test --configfile $(TEST_CONFIG)

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[cnn,test,cluster,imagemagick]"
	touch $@

# Every front-end library of the lock file (Leaflet, client-zip), installed by one npm ci.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian packages: ImageMagick (Wand's fallback decoder), headless Chromium (viewer tests) and
# Slurm with munge (the cluster profile's test on a private one-node cluster).
# Installed when missing and apt-get is usable as root; elsewhere install them with your package manager.
SYSTEM_PACKAGES := imagemagick chromium slurm-wlm munge
system-packages:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

serve:
	$(BIN)/roomgrid serve --directory results/viewer --port 8000

report:
	$(BIN)/snakemake --cores $(CORES) --report report.html

clean-results:
	rm -rf results logs .snakemake resources/demo
