"""The task sync rules end to end: Salesforce emulator over loopback HTTPS, a real PostgreSQL, one clock."""

from datetime import date, timedelta

import psycopg
import pytest

from sync_pipelines import actions_app
from sync_pipelines.actions_app import set_seller_time_zone
from sync_pipelines.store.task_sellers import apply_task_sync_settings, read_task_sellers
from sync_pipelines.tasks import actions_tasks
from sync_pipelines_tests.fixtures.sellers import add_seller, choose_task_sync
from sync_pipelines_tests.tasks.conftest import SELLER

DUE = date(2026, 7, 3)


def sf_task(world, **fields):
    """A task a Salesforce user creates now."""
    return world.sf.create("Task", **{"Subject": "Follow up", "ActivityDate": DUE, "WhoId": world.who_id, **fields})


# ---------------------------------------------------------------- the setting and the first enable


def test_sync_is_off_by_default_and_touches_nothing(world):
    salesforce_id = sf_task(world)
    task_id = world.create(subject="Local only", due_date=DUE)

    metadata = world.run()

    assert metadata["salesforce_tasks"]["sync_enabled"] is False
    assert metadata["actions_tasks"]["sync_enabled"] is False
    assert [s.mode for s in read_task_sellers(world.conn)] == []  # nobody chose anything: "don't sync"
    assert world.actions_by_salesforce_id(salesforce_id) is None
    assert world.sf_by_actions_id(task_id) == []


def test_enabling_records_the_first_enable_moment_once(world):
    first = world.now
    for hours, option in ((0, "two_way"), (1, "actions_to_salesforce"), (2, "dont_sync"), (3, "two_way")):
        choose_task_sync(world.conn, option, first + timedelta(hours=hours), SELLER)
        applied = apply_task_sync_settings(world.conn, first + timedelta(hours=hours, minutes=1))
        assert applied.enabled == ([SELLER] if hours in (0, 3) else [])
    (seller,) = read_task_sellers(world.conn)
    # The moments are those of the seller's recorded choices, not of the runs that applied them.
    assert (seller.mode, seller.first_enabled_at, seller.enabled_at) == ("two_way", first, first + timedelta(hours=3))
    assert seller.disabled_at == first + timedelta(hours=2, minutes=1)


def test_the_org_default_enables_every_seller_and_a_sellers_own_choice_wins(world):
    other_user = next(r["Id"] for r in world.sf.records("User") if r["Id"] not in (world.owner_id,
                                                                                    world.sf.integration_user_id))
    add_seller(world.conn, "seller-2", other_user)
    choose_task_sync(world.conn, "two_way", world.now)  # the admin's org default
    choose_task_sync(world.conn, "dont_sync", world.now, "seller-2")  # seller 2 opts out in "My Account"
    world.advance(minutes=1)
    metadata = world.run()["salesforce_tasks"]
    assert metadata["sellers_enabled_now"] == [SELLER]
    assert {s.seller_id: s.mode for s in read_task_sellers(world.conn)} == {SELLER: "two_way"}


def test_first_enable_imports_salesforce_tasks_and_pushes_only_later_actions_tasks(world):
    open_id = sf_task(world, Subject="Call back", Priority="High", Description="about pricing")
    closed_id = sf_task(world, Subject="Sent deck", Status="Completed")
    old_task = world.create(subject="Made before the sync", due_date=DUE)
    world.advance(minutes=5)

    metadata = world.run(enable=True)

    assert metadata["salesforce_tasks"]["mode"] == "initial"
    assert metadata["actions_tasks"]["pulled_inserted"] == 2
    imported = world.actions_by_salesforce_id(open_id)
    assert (imported["subject"], imported["priority"], imported["notes"], imported["due_date"]) == (
        "Call back", "High", "about pricing", DUE)
    assert world.actions_by_salesforce_id(closed_id)["completed"] is True
    # Tasks that existed in Actions before enabling stay in Actions only.
    assert world.sf_by_actions_id(old_task) == []
    assert metadata["actions_tasks"]["kept_in_actions_only_preexisting"] == 1

    world.advance(minutes=5)
    new_task = world.create(subject="Made after enabling", due_date=DUE, who_id=world.who_id)
    world.advance(minutes=1)
    world.run()
    assert [t["Subject"] for t in world.sf_by_actions_id(new_task)] == ["Made after enabling"]
    assert world.sf_by_actions_id(old_task) == []


def test_first_enable_imports_only_the_tasks_touched_in_the_last_24_hours(world):
    reminder = world.now + timedelta(days=3)
    stale_id = sf_task(world, Subject="Old", IsReminderSet=True, ReminderDateTime=reminder)
    world.advance(hours=23)
    fresh_id = sf_task(world, Subject="Recent", IsReminderSet=True, ReminderDateTime=reminder)
    world.advance(hours=2)  # the stale task was last touched 25 hours ago, the fresh one 2 hours ago

    world.run(enable=True)

    assert world.actions_by_salesforce_id(stale_id) is None
    assert world.actions_by_salesforce_id(fresh_id)["reminder_at"] == reminder
    # The old task is not brought in later either, until it changes in Salesforce.
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pulled_inserted"] == 0
    world.sf.update("Task", stale_id, Subject="Old, edited in Salesforce")
    world.advance(minutes=1)
    world.run()
    assert world.actions_by_salesforce_id(stale_id)["subject"] == "Old, edited in Salesforce"


# ---------------------------------------------------------------- re-enable: Salesforce deletions


def _enable_import_and_disable(world, count):
    ids = [sf_task(world, Subject=f"Task {n}") for n in range(count)]
    world.advance(minutes=1)
    world.run(enable=True)
    world.advance(minutes=1)
    choose_task_sync(world.conn, "dont_sync", world.now, SELLER)
    assert world.run()["actions_tasks"]["sync_enabled"] is False  # the next run applies it
    return ids


def test_reenable_removes_tasks_deleted_in_salesforce_in_the_past_15_days(world):
    deleted, kept = _enable_import_and_disable(world, 2)
    world.advance(days=1)
    world.sf.delete("Task", deleted)
    world.advance(days=10)
    assert world.run()["actions_tasks"]["sync_enabled"] is False  # still off: nothing happens
    assert world.actions_by_salesforce_id(deleted) is not None

    metadata = world.run(enable=True)

    assert metadata["salesforce_tasks"]["deletion_sweep"] is True
    assert metadata["salesforce_tasks"]["deletions_from_get_deleted"] == 1
    assert world.actions_by_salesforce_id(deleted) is None
    assert world.actions_by_salesforce_id(kept) is not None


def test_deletions_beyond_get_deleted_reach_are_found_by_a_full_compare_of_ids(world):
    deleted, kept = _enable_import_and_disable(world, 2)
    world.sf.delete("Task", deleted)
    world.advance(days=20)  # the recycle bin (and getDeleted) has forgotten the deletion

    metadata = world.run(enable=True)

    assert metadata["salesforce_tasks"]["deletions_from_get_deleted"] == 0
    assert metadata["salesforce_tasks"]["deletions_from_full_compare"] == 1
    assert world.actions_by_salesforce_id(deleted) is None
    assert world.actions_by_salesforce_id(kept) is not None


# ---------------------------------------------------------------- the Command Center


def test_command_center_shows_today_and_tomorrow_in_each_sellers_time_zone(world):
    # 2026-07-01 23:30 UTC is already 2026-07-02 08:30 in Tokyo.
    world.clock.current = world.now.replace(hour=23, minute=30)
    set_seller_time_zone(world.conn, SELLER, "Asia/Tokyo")
    london_user = next(r["Id"] for r in world.sf.records("User") if r["Id"] not in (world.owner_id,
                                                                                     world.sf.integration_user_id))
    add_seller(world.conn, "seller-utc", london_user)
    for owner, who in ((world.owner_id, "tokyo"), (london_user, "utc")):
        # Named by their UTC day: 06-30 yesterday, 07-01 today, 07-02 tomorrow, 07-03 later.
        for offset, day in enumerate(["yesterday", "today", "tomorrow", "later"]):
            world.create(subject=f"{who} {day}", due_date=date(2026, 6, 30) + timedelta(days=offset), owner_id=owner)
    world.run(enable=True)

    shown = {row[0] for row in world.conn.execute("SELECT subject FROM command_center_tasks_at(%s)", (world.now,))}
    # Tokyo's today is 07-02, tomorrow 07-03; the UTC seller's today is 07-01, tomorrow 07-02.
    assert shown == {"tokyo tomorrow", "tokyo later", "utc today", "utc tomorrow"}
    metadata = world.run()["command_center_tasks"]
    assert (metadata["due_today"], metadata["due_tomorrow"], metadata["time_zones"]) == (2, 2, ["Asia/Tokyo"])
    world.conn.execute("SELECT count(*) FROM command_center_tasks").fetchone()  # the view itself works
    with pytest.raises(psycopg.errors.CheckViolation):
        set_seller_time_zone(world.conn, SELLER, "Mars/Olympus")


# ---------------------------------------------------------------- steady state: Actions -> Salesforce


def test_actions_create_reaches_salesforce(enabled_world):
    world = enabled_world
    reminder = world.now + timedelta(days=1)
    task_id = world.create(subject="Send proposal", due_date=DUE, priority="High", notes="v2",
                           reminder_at=reminder, who_id=world.who_id, owner_id=world.owner_id)
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pushed_created"] == 1
    (created,) = world.sf_by_actions_id(task_id)
    assert (created["Subject"], created["Priority"], created["Description"], created["ActivityDate"],
            created["IsReminderSet"], created["ReminderDateTime"], created["WhoId"], created["OwnerId"]) == (
        "Send proposal", "High", "v2", DUE, True, reminder, world.who_id, world.owner_id)
    assert world.actions_task(task_id)["salesforce_task_id"] == created["Id"]


def _pushed(world, **fields):
    task_id = world.create(subject="Prepare demo", due_date=DUE, who_id=world.who_id, **fields)
    world.advance(minutes=1)
    world.run()
    world.advance(minutes=1)
    return task_id, world.actions_task(task_id)["salesforce_task_id"]


def test_actions_edit_reaches_salesforce(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _pushed(world)
    world.edit(task_id, subject="Prepare the demo", due_date=DUE + timedelta(days=1), notes="bring laptop")
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pushed_updated"] == 1
    task = world.sf_task(salesforce_id)
    assert (task["Subject"], task["ActivityDate"], task["Description"]) == (
        "Prepare the demo", DUE + timedelta(days=1), "bring laptop")


def test_actions_complete_reaches_salesforce(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _pushed(world)
    actions_app.complete_task(world.conn, task_id, world.now)
    world.advance(minutes=1)
    world.run()
    assert world.sf_task(salesforce_id)["IsClosed"] is True


def test_actions_delete_reaches_salesforce(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _pushed(world)
    actions_app.delete_task(world.conn, task_id, world.now)
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pushed_deleted"] == 1
    assert world.sf_task(salesforce_id) is None
    assert world.actions_task(task_id) is None  # the tombstone goes once Salesforce agrees


# ---------------------------------------------------------------- steady state: Salesforce -> Actions


def test_salesforce_create_reaches_actions(enabled_world):
    world = enabled_world
    salesforce_id = sf_task(world, Subject="Booked in Salesforce", OwnerId=world.owner_id)
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pulled_inserted"] == 1
    task = world.actions_by_salesforce_id(salesforce_id)
    assert (task["subject"], task["owner_id"], task["who_id"]) == ("Booked in Salesforce", world.owner_id, world.who_id)


def test_salesforce_edit_reaches_actions(enabled_world):
    world = enabled_world
    salesforce_id = sf_task(world)
    world.advance(minutes=1)
    world.run()
    world.advance(minutes=1)
    world.sf.update("Task", salesforce_id, Subject="Follow up on pricing", Priority="Low")
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pulled_updated"] == 1
    task = world.actions_by_salesforce_id(salesforce_id)
    assert (task["subject"], task["priority"]) == ("Follow up on pricing", "Low")


def test_salesforce_complete_reaches_actions(enabled_world):
    world = enabled_world
    salesforce_id = sf_task(world)
    world.advance(minutes=1)
    world.run()
    world.advance(minutes=1)
    world.sf.update("Task", salesforce_id, Status="Completed")
    world.advance(minutes=1)
    world.run()
    assert world.actions_by_salesforce_id(salesforce_id)["completed"] is True


def test_salesforce_delete_reaches_actions(enabled_world):
    world = enabled_world
    salesforce_id = sf_task(world)
    world.advance(minutes=1)
    world.run()
    world.advance(minutes=1)
    world.sf.delete("Task", salesforce_id)
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pulled_deleted"] == 1
    assert world.actions_by_salesforce_id(salesforce_id) is None


# ---------------------------------------------------------------- conflicts and echoes


def _linked(world):
    task_id, salesforce_id = _pushed(world, priority="Normal")
    return task_id, salesforce_id


def test_conflict_edits_to_different_fields_on_both_sides_are_both_kept(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _linked(world)
    world.edit(task_id, subject="Actions subject")
    world.advance(minutes=2)
    world.sf.update("Task", salesforce_id, Description="notes from Salesforce")  # later, another field
    world.advance(minutes=1)

    metadata = world.run()["actions_tasks"]

    assert metadata["pulled_conflicts_merged"] == 1
    actions, salesforce = world.actions_task(task_id), world.sf_task(salesforce_id)
    assert (actions["subject"], actions["notes"]) == ("Actions subject", "notes from Salesforce")
    assert (salesforce["Subject"], salesforce["Description"]) == ("Actions subject", "notes from Salesforce")
    world.advance(minutes=1)
    again = world.run()["actions_tasks"]  # in step: nothing moves either way
    assert (again["pulled_updated"], again["pushed_updated"]) == (0, 0)


def test_conflict_on_one_field_goes_to_the_side_that_changed_it_last(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _linked(world)
    world.edit(task_id, subject="Actions subject", priority="High")
    world.advance(minutes=2)
    world.sf.update("Task", salesforce_id, Subject="Salesforce subject")  # later, on the same field
    world.advance(minutes=1)

    metadata = world.run()["actions_tasks"]

    assert metadata["pulled_conflicts_merged"] == 1
    actions, salesforce = world.actions_task(task_id), world.sf_task(salesforce_id)
    # The subject goes to Salesforce (later); the priority only Actions changed stays Actions'.
    assert (actions["subject"], actions["priority"]) == ("Salesforce subject", "High")
    assert (salesforce["Subject"], salesforce["Priority"]) == ("Salesforce subject", "High")


def test_conflict_actions_edited_last_keeps_its_field_and_salesforces_others(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _linked(world)
    world.sf.update("Task", salesforce_id, Subject="Salesforce subject", Priority="Low")
    world.advance(minutes=2)
    world.edit(task_id, subject="Actions subject")  # later, on the same field
    world.advance(minutes=1)

    world.run()

    actions, salesforce = world.actions_task(task_id), world.sf_task(salesforce_id)
    assert (actions["subject"], actions["priority"]) == ("Actions subject", "Low")
    assert (salesforce["Subject"], salesforce["Priority"]) == ("Actions subject", "Low")


def test_a_deletion_beats_a_later_edit_on_the_other_side(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _linked(world)
    world.sf.delete("Task", salesforce_id)
    world.advance(minutes=2)
    world.edit(task_id, subject="Edited after the deletion")
    world.advance(minutes=1)
    world.run()
    assert world.actions_task(task_id) is None and world.sf_task(salesforce_id) is None


def test_no_echo_a_change_the_sync_wrote_is_not_sent_back(enabled_world):
    world = enabled_world
    task_id, salesforce_id = _linked(world)
    stamp = world.sf_task(salesforce_id)["SystemModstamp"]
    updated_at = world.actions_task(task_id)["updated_at"]
    world.advance(minutes=1)
    again = world.run()["actions_tasks"]
    assert (again["pulled_updated"], again["pushed_updated"], again["pushed_created"]) == (0, 0, 0)
    assert world.sf_task(salesforce_id)["SystemModstamp"] == stamp  # nothing written back to Salesforce
    assert world.actions_task(task_id)["updated_at"] == updated_at

    # And the other way: a Salesforce edit pulled into Actions is not pushed back to Salesforce.
    world.sf.update("Task", salesforce_id, Subject="Edited in Salesforce")
    stamp = world.sf_task(salesforce_id)["SystemModstamp"]
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pulled_updated"] == 1
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pushed_updated"] == 0
    assert world.sf_task(salesforce_id)["SystemModstamp"] == stamp


def test_a_task_salesforce_refuses_is_quarantined_then_retried_when_fixed(enabled_world):
    world = enabled_world
    task_id = world.create(subject="Odd priority", due_date=DUE, priority="Urgent")
    world.advance(minutes=1)
    metadata = world.run()["actions_tasks"]
    assert (metadata["quarantined_now"], metadata["quarantined_total"]) == (1, 1)
    (reason,) = world.conn.execute("SELECT reason FROM task_quarantine").fetchone()
    assert "priority" in reason
    world.edit(task_id, priority="High")
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["quarantined_total"] == 0
    assert len(world.sf_by_actions_id(task_id)) == 1


def test_actions_tasks_alone_before_the_first_import_fails_clearly(world):
    world.enable()
    apply_task_sync_settings(world.conn, world.now)  # applied, but the import was never read
    world.run(selection=[actions_tasks], expect_success=False)
