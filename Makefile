# Shien PRM — developer entry points. `make run` and `make test` are the whole set-up.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)

# The first interpreter that really runs and is >= 3.12 (pyenv shims fail unless selected,
# so every candidate is executed, not just looked up).
define find_python
for c in python3.13 python3.12 $(PYENV_ROOT)/versions/3.13*/bin/python3 $(PYENV_ROOT)/versions/3.12*/bin/python3 python3; do \
  if $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then echo $$c; exit 0; fi; \
done; echo "No Python >= 3.12 found (tried python3.13, python3.12, pyenv versions, python3)" >&2; exit 1
endef

.PHONY: run test test-fast e2e lint check messages bench worker beat backup restore clean help

help:
	@echo "make run    - install, migrate, seed the demo and serve on http://127.0.0.1:8000"
	@echo "make test   - the whole test suite (SQLite by default; PostgreSQL/Redis when DATABASE_URL/CELERY_BROKER_URL are set)"
	@echo "make lint   - ruff, import-linter contracts, makemigrations --check, check --deploy on production settings"
	@echo "make bench  - performance benchmarks (PostgreSQL; prints ratios)"

$(VENV)/bin/python:
	@PYBIN=$$($(find_python)) && echo "==> creating $(VENV) with $$PYBIN" && $$PYBIN -m venv $(VENV)
	@$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(VENV)/bin/python
	@echo "==> installing runtime dependencies"
	@$(PIP) install --progress-bar on --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-runtime
	@echo "==> installing development dependencies"
	@$(PIP) install --progress-bar on --disable-pip-version-check -e ".[dev]"
	@touch $@

run: $(VENV)/.installed-runtime
	@echo "==> migrating"
	@$(PY) manage.py migrate --no-input
	@echo "==> seeding the demo (skips what exists)"
	@$(PY) manage.py seed_demo
	@echo "==> serving on http://127.0.0.1:8000  (demo logins: see README.md)"
	@$(PY) manage.py runserver 127.0.0.1:8000

# The suite runs on every core (pytest-xdist); PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
test: $(VENV)/.installed-dev
	@$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=prm.settings_production SECRET_KEY=$$(openssl rand -hex 32) ALLOWED_HOSTS=shien.example.com SITE_URL=https://shien.example.com \
	  $(PY) manage.py check --deploy --fail-level WARNING

# Updates exactly the catalogues settings.LOCALE_PATHS loads (one per context + locale/ for the site-wide
# templates); see partners/management/commands/makemessages.py. English is the source language: no catalogue.
messages: $(VENV)/.installed-dev
	$(PY) manage.py makemessages -l ja --no-obsolete --add-location=file --ignore=.venv --ignore=bench --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

bench: $(VENV)/.installed-dev
	$(PY) bench/rollup.py
	$(PY) bench/dashboard.py
	$(PY) bench/ingest.py
	$(PY) bench/lrs.py
	$(PY) bench/scale.py
	$(PY) bench/kpi_job.py
	$(PY) bench/vendor.py

# Backups (PostgreSQL): a custom-format dump of DATABASE_URL plus a tarball of MEDIA_ROOT, in
# BACKUP_DIR (default ./backups). Restore into an EMPTY database: make restore DUMP=… MEDIA_ARCHIVE=…
# (DATABASE_URL names the target; run as the owner role). docs/operations.md: schedule, PITR.
BACKUP_DIR ?= backups
backup: $(VENV)/.installed-runtime
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "make backup needs DATABASE_URL=postgres://…" >&2; exit 2;; esac
	@mkdir -p "$(BACKUP_DIR)"; stamp=$$(date -u +%Y%m%dT%H%M%SZ); \
	pg_dump --format=custom --no-owner --file="$(BACKUP_DIR)/shien-$$stamp.dump" "$$DATABASE_URL" && \
	media=$$($(PY) -c 'import django,os;os.environ.setdefault("DJANGO_SETTINGS_MODULE","prm.settings");django.setup();from django.conf import settings;print(settings.MEDIA_ROOT)') && \
	mkdir -p "$$media" && tar -C "$$media" -czf "$(BACKUP_DIR)/media-$$stamp.tar.gz" . && \
	echo "backup: $(BACKUP_DIR)/shien-$$stamp.dump and $(BACKUP_DIR)/media-$$stamp.tar.gz"

restore: $(VENV)/.installed-runtime
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "make restore needs DATABASE_URL=postgres://… (an empty database)" >&2; exit 2;; esac
	@test -f "$(DUMP)" || { echo "make restore DUMP=path/to/shien-….dump [MEDIA_ARCHIVE=path/to/media-….tar.gz]" >&2; exit 2; }
	@tables=$$(psql "$$DATABASE_URL" -Atc "select count(*) from pg_tables where schemaname = current_schema()"); \
	if [ "$$tables" != "0" ]; then echo "refusing to restore into a database that has $$tables tables" >&2; exit 2; fi
	pg_restore --no-owner --exit-on-error --dbname="$$DATABASE_URL" "$(DUMP)"
	@if [ -n "$(MEDIA_ARCHIVE)" ]; then \
	  media=$$($(PY) -c 'import django,os;os.environ.setdefault("DJANGO_SETTINGS_MODULE","prm.settings");django.setup();from django.conf import settings;print(settings.MEDIA_ROOT)'); \
	  mkdir -p "$$media" && tar -C "$$media" -xzf "$(MEDIA_ARCHIVE)" && echo "media restored into $$media"; fi
	$(PY) manage.py migrate --no-input

worker: $(VENV)/.installed-runtime
	$(VENV)/bin/celery -A prm worker -l info

beat: $(VENV)/.installed-runtime
	$(VENV)/bin/celery -A prm beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm media staticfiles artifacts
