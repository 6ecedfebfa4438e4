# Every target uses the project's own virtualenv; `make test` and `make demo` create it on first use.
VENV := .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.sync_data/dagster_home

.PHONY: install test demo dev sandbox migrate bench clean

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

demo: install
	$(PY) -m sync_pipelines.demo

dev: install
	$(PY) -m sync_pipelines.dev

sandbox: install
	$(PY) -m sync_pipelines.sandbox

# Once per deployment (SYNC_DATABASE_URL, else the embedded server); nothing else migrates a deployed database.
migrate: install
	$(PY) -m sync_pipelines.store.migrate

clean:
	rm -rf $(VENV) .sync_data
