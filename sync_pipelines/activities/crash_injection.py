"""Crash injection for tests: a seam between "the destination answered" and "the answer is committed".

Not a Dagster hook. Production never sets it. Tests replace `after_send` with a function that raises, to prove that a
crash at the worst moment (the remote side has the data, our database does not know) followed by a
rerun gives no duplicate and no gap.
"""

from collections.abc import Callable


def _nothing(destination: str, batch_id: str) -> None:
    return None


after_send: Callable[[str, str], None] = _nothing


def reached_after_send(destination: str, batch_id: str) -> None:
    """Called by the delivery code right after a remote call returned, before recording its outcome."""
    after_send(destination, batch_id)
