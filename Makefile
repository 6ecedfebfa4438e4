# Every target uses the project's own virtualenv; `make test` and `make demo` create it on first use.
VENV := .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.sync_data/dagster_home

.PHONY: install test screenshots demo dev sandbox stop migrate bench clean start-sync repin

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e ".[sandbox,test]"
	touch $@

# No .env is generated (the dagster CLI would let it override exported variables); remove an old one.
install: $(VENV)/.installed
	@$(PY) -m sync_pipelines.local

test: install
	SYNC_ENV=sandbox $(PY) -m pytest -q

# The README's pictures: the UI test, writing into docs/screenshots/ (`make test` writes to .sync_data/).
screenshots: install
	SYNC_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -n 0 sync_pipelines_tests/ui/test_ui_end_to_end.py sync_pipelines_tests/ui/test_ui_start_sync.py \
		sync_pipelines_tests/ui/test_dry_run_celery.py

demo: install
	$(PY) -m sync_pipelines.demo

dev: install
	$(PY) -m sync_pipelines.dev

# Org pinning: record the configured Marketo instance and Salesforce org as the ones to sync (deliberately).
repin: install
	$(PY) -m sync_pipelines.pinning repin

# The admin's "initiate data sync" on the Actions database of the environment (SYNC_DATABASE_URL, else the
# local embedded one): the sensors and schedules act from then on.
start-sync: install
	$(PY) -m sync_pipelines.start_sync

# Serves the emulators in the foreground, or shows the running ones (from make demo/dev) and exits.
sandbox: install
	$(PY) -m sync_pipelines.sandbox

# Stops what make demo, make dev and make sandbox leave running: the sandbox and the embedded PostgreSQL.
stop:
	@if [ -x $(PY) ]; then $(PY) -m sync_pipelines.stop; else echo "nothing to stop: no $(VENV) yet"; fi

# Once per deployment (SYNC_DATABASE_URL, else the embedded server); nothing else migrates a deployed database.
migrate: install
	$(PY) -m sync_pipelines.store.migrate

clean: stop
	rm -rf $(VENV) .sync_data
