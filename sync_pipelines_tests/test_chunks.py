import pytest

from sync_pipelines.chunks import chunked


def test_chunked_slices_in_order_and_keeps_the_remainder():
    assert list(chunked(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked(["a", "b"], 200)) == [["a", "b"]]
    assert list(chunked([], 10)) == []


def test_chunked_refuses_a_size_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        list(chunked([1, 2], 0))
