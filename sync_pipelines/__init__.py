"""sync_pipelines: the Dagster code location behind Actions (Marketo Engage <-> Actions <-> Salesforce).

Layers, each importing only those below it (sync_pipelines_tests/test_layers.py checks the store's rule and
that every module imports on its own):
  0. `chunks` (the one chunking helper), `conventions` (owners, sample size), `paths`: import nothing;
  1. `marketo`, `salesforce`: the API clients;
  2. `store`: the Actions database, all its SQL and migrations (`paths`, `environment` for its URLs);
  3. `resources`, `quota`: Dagster resources and quota handling around the clients and the store;
  4. the domains `people`, `activities`, `unsubscribes`, `tasks`;
  5. `definitions`: assembly only. `demo`, `dev`, `local`, `stop`: the local commands.
`sandbox` (the emulators) stands apart: the resources start it only when no service URL is configured.
"""
