"""A sync interrupted at any step, then rerun, ends in the same state on both sides, nothing sent twice."""

from datetime import date

import pytest

from sync_pipelines import actions_app
from sync_pipelines.tasks import actions_tasks, salesforce_tasks

DUE = date(2026, 7, 3)


def _prepare_changes_on_both_sides(world):
    """Linked tasks, then one of each change on each side since the last sync."""
    edited, completed, deleted = (world.create(subject=s, due_date=DUE, who_id=world.who_id)
                                  for s in ("edit me", "complete me", "delete me"))
    sf_edited = world.sf.create("Task", Subject="sf edit me", ActivityDate=DUE)
    sf_deleted = world.sf.create("Task", Subject="sf delete me", ActivityDate=DUE)
    world.advance(minutes=1)
    world.run()
    world.advance(minutes=1)
    world.create(subject="new in Actions", due_date=DUE)
    world.edit(edited, subject="edited in Actions")
    actions_app.complete_task(world.conn, completed, world.now)
    actions_app.delete_task(world.conn, deleted, world.now)
    world.sf.create("Task", Subject="new in Salesforce", ActivityDate=DUE)
    world.sf.update("Task", sf_edited, Subject="edited in Salesforce")
    world.sf.delete("Task", sf_deleted)
    world.advance(minutes=1)


def _end_state(world):
    actions = world.conn.execute(
        "SELECT subject, status, salesforce_task_id FROM actions_task WHERE deleted_at IS NULL ORDER BY subject"
    ).fetchall()
    salesforce = sorted((t["Subject"], t["Status"], t["Id"]) for t in world.sf_tasks())
    return actions, salesforce


EXPECTED_SUBJECTS = ["complete me", "edited in Actions", "edited in Salesforce", "new in Actions", "new in Salesforce"]


def _interrupt_reading(world):
    world.sf.inject_errors("REQUEST_LIMIT_EXCEEDED", 1, path_prefix="query")
    world.run(expect_success=False)


def _interrupt_between_steps(world):
    # The changes are read and staged; applying them fails at the first Salesforce write.
    world.sf.inject_errors("REQUEST_LIMIT_EXCEEDED", 1, path_prefix="composite/sobjects")
    world.run(expect_success=False)


def _interrupt_after_writing_before_bookkeeping(world):
    # Salesforce accepted every write, then the run dies before recording them in Actions.
    world.run(selection=[salesforce_tasks])
    world.sf.inject_errors("REQUEST_LIMIT_EXCEEDED", 1, path_prefix="query")
    world.run(selection=[actions_tasks], expect_success=False)


@pytest.mark.parametrize("interrupt", [_interrupt_reading, _interrupt_between_steps,
                                       _interrupt_after_writing_before_bookkeeping],
                         ids=["while reading Salesforce", "between read and apply", "after writing, before recording"])
def test_interrupted_sync_then_rerun_gives_the_same_end_state(enabled_world, interrupt):
    world = enabled_world
    _prepare_changes_on_both_sides(world)

    interrupt(world)
    world.advance(minutes=1)
    world.run()
    world.advance(minutes=1)
    settled = world.run()["actions_tasks"]  # a further run finds nothing left to do

    actions, salesforce = _end_state(world)
    assert actions == salesforce  # both sides hold the same tasks, linked one to one
    assert [subject for subject, _, _ in actions] == EXPECTED_SUBJECTS
    assert dict((s, status) for s, status, _ in actions)["complete me"] == "Completed"
    # Nothing sent twice: one Salesforce task per Actions task.
    (new_task,) = world.conn.execute("SELECT task_id FROM actions_task WHERE subject = 'new in Actions'").fetchone()
    assert len(world.sf_by_actions_id(new_task)) == 1
    assert (settled["pushed_created"], settled["pushed_updated"], settled["pushed_deleted"]) == (0, 0, 0)
    assert world.conn.execute("SELECT count(*) FROM salesforce_task_change").fetchone() == (0,)


def test_a_run_with_every_salesforce_write_refused_then_a_clean_run_delivers_every_actions_change(enabled_world):
    """Transient is not permanent: UNABLE_TO_LOCK_ROW on every record for two runs, then a clean run."""
    world = enabled_world
    edited, completed = (world.create(subject=s, due_date=DUE, who_id=world.who_id) for s in ("edit me", "complete me"))
    world.advance(minutes=1)
    world.run()
    world.advance(minutes=1)
    created = world.create(subject="new in Actions", due_date=DUE)
    world.edit(edited, subject="edited in Actions")
    actions_app.complete_task(world.conn, completed, world.now)
    world.advance(minutes=1)

    world.sf.inject_errors("UNABLE_TO_LOCK_ROW", 100_000, path_prefix="composite/sobjects")
    for attempt in (1, 2):
        refused = world.run()["actions_tasks"]
        assert refused["retry_next_run"] == 3 and refused["pushed_created"] == refused["pushed_updated"] == 0
        assert refused["retry_most_attempts"] == attempt  # counted, and offered again on every run
        world.advance(minutes=1)
    world.sf.clear_injections()

    clean = world.run()["actions_tasks"]
    assert clean["pushed_created"] == 1 and clean["pushed_updated"] == 2 and clean["retry_next_run"] == 0
    assert [t["Subject"] for t in world.sf_by_actions_id(created)] == ["new in Actions"]
    assert world.sf_task(world.actions_task(edited)["salesforce_task_id"])["Subject"] == "edited in Actions"
    assert world.sf_task(world.actions_task(completed)["salesforce_task_id"])["Status"] == "Completed"
    assert world.conn.execute("SELECT count(*) FROM task_quarantine").fetchone()[0] == 0
