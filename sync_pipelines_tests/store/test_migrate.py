import psycopg

from sync_pipelines.store.migrate import available_migrations, migrate


def test_migrations_apply_once_in_order(database_url):
    with psycopg.connect(database_url) as conn:
        first = migrate(conn)
        second = migrate(conn)
        recorded = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert first == [name for _, name, _ in available_migrations()]
    assert second == []
    assert recorded == first


def test_person_table_holds_exactly_the_standard_fields_plus_sync_metadata(database_url):
    with psycopg.connect(database_url) as conn:
        migrate(conn)
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'actions_person' ORDER BY ordinal_position"
            )
        ]
    assert columns == [
        "marketo_id", "first_name", "last_name", "salesforce_contact_id", "salesforce_lead_id", "company",
        "title", "email", "phone", "linkedin_url", "source",
        "first_synced_at", "last_synced_at", "source_updated_at",
    ]
