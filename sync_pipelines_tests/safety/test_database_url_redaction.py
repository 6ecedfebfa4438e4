"""A malformed SYNC_DATABASE_URL is named, and its password never reaches stdout, the logs or the event log."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from sync_pipelines import store
from sync_pipelines.people import ASSETS
from sync_pipelines.resources import ActionsDatabase, MarketoResource

PASSWORD = "pw-that-must-not-leak"
MALFORMED = [f"sync:{PASSWORD}@db.internal/actions",  # no scheme: psycopg quotes it back
             f"postgresql://sync:{PASSWORD}@127.0.0.1:notaport/actions",
             f"postgresql://sync:{PASSWORD}@127.0.0.1:1/actions"]  # well-formed, nothing listens


@pytest.mark.parametrize("url", MALFORMED)
def test_connect_names_the_variable_and_withholds_the_password(url):
    with pytest.raises(store.DatabaseUrlError) as refused:
        store.connect(url)
    assert "SYNC_DATABASE_URL" in str(refused.value)
    assert PASSWORD not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_a_run_on_a_malformed_url_leaks_no_password(capfd):
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            ASSETS[-1:], instance=instance, raise_on_error=False,
            resources={"actions_db": ActionsDatabase(url=MALFORMED[0]), "marketo": MarketoResource()})
        assert not result.success
        events = [serialize_value(record) for record in instance.all_logs(result.run_id)]
    assert any("SYNC_DATABASE_URL" in event for event in events)
    assert not any(PASSWORD in event for event in events)
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err
