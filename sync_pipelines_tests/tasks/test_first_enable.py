"""The first task sync as the product states it, on an org with 200 Tasks of various ages and owners: only the
syncing sellers' Tasks created or updated in the 24 hours before the enable come in, and the Actions tasks that
existed before the enable are never pushed."""

from datetime import date, timedelta

from sync_pipelines_tests.fixtures.sellers import add_seller
from sync_pipelines_tests.tasks.conftest import SELLER

DUE = date(2026, 7, 3)
TASKS = 200


def test_first_enable_on_an_org_with_200_tasks(world):
    users = [r["Id"] for r in world.sf.records("User")]
    quiet_seller_user = next(u for u in users if u not in (world.owner_id, world.sf.integration_user_id))
    add_seller(world.conn, "seller-2", quiet_seller_user)  # an Actions seller who keeps "don't sync"
    stranger = next(u for u in users if u not in (world.owner_id, quiet_seller_user, world.sf.integration_user_id))
    owners = [world.owner_id, quiet_seller_user, stranger, world.sf.integration_user_id]

    touched = {}  # Salesforce id -> (owner, when last created or updated)
    for n in range(TASKS):  # one Task every 21 minutes over 70 hours, owners in turn
        world.advance(minutes=21)
        owner = owners[n % len(owners)]
        touched[world.sf.create("Task", Subject=f"Task {n}", ActivityDate=DUE, OwnerId=owner)] = (owner, world.now)
    for salesforce_id in list(touched)[:80:7]:  # old Tasks of every owner edited recently
        world.advance(minutes=3)
        world.sf.update("Task", salesforce_id, Description="touched again")
        touched[salesforce_id] = (touched[salesforce_id][0], world.now)
    before = [world.create(subject=f"Made before the enable {n}", due_date=DUE) for n in range(5)]
    world.advance(minutes=5)
    enabled_at = world.now

    metadata = world.run(enable=True)

    expected = {i for i, (owner, at) in touched.items() if owner == world.owner_id and at >= enabled_at - timedelta(hours=24)}
    imported = {row[0] for row in world.conn.execute("SELECT salesforce_task_id FROM actions_task"
                                                     " WHERE salesforce_task_id IS NOT NULL")}
    assert imported == expected
    assert 0 < len(expected) < TASKS / len(owners)  # some of the seller's Tasks are older than 24 hours
    assert metadata["salesforce_tasks"]["sellers_enabled_now"] == [SELLER]
    assert metadata["actions_tasks"]["kept_in_actions_only_preexisting"] == len(before)

    # Afterwards: the tasks that existed before are never pushed, even when edited; new ones are.
    world.advance(minutes=1)
    for task_id in before:
        world.edit(task_id, subject="Edited after the enable")
    after = world.create(subject="Made after the enable", due_date=DUE, who_id=world.who_id)
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pushed_created"] == 1
    assert [len(world.sf_by_actions_id(task_id)) for task_id in before] == [0] * len(before)
    assert len(world.sf_by_actions_id(after)) == 1

    # Later changes follow the syncing seller's Tasks only: another seller's or a stranger's are not pulled.
    others = [i for i, (owner, _) in touched.items() if owner != world.owner_id][:3]
    old_own = next(i for i, (owner, _) in touched.items() if owner == world.owner_id and i not in expected)
    for salesforce_id in [*others, old_own]:
        world.sf.update("Task", salesforce_id, Subject="Changed later")
    world.advance(minutes=1)
    assert world.run()["actions_tasks"]["pulled_inserted"] == 1
    assert world.actions_by_salesforce_id(old_own)["subject"] == "Changed later"
    assert all(world.actions_by_salesforce_id(i) is None for i in others)
