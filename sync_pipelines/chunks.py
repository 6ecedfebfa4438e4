"""`chunked`: a list in consecutive slices of at most `size` items (ids per API call or SOQL IN list).

The one chunking helper of the project (itertools.batched arrives with Python 3.12). Imports nothing, so
every layer may use it, the clients included.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of `items`, each of at most `size` (>= 1) items; none for an empty sequence."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
