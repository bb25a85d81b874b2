import pytest

from lakehouse.workers import default_workers, map_batches


def square_all(batch):
    return [value * value for value in batch]


def test_results_keep_input_order_across_batches_and_processes():
    values = list(range(25))
    expected = [v * v for v in values]
    assert map_batches(square_all, values, workers=1, batch_size=4) == expected
    assert map_batches(square_all, values, workers=2, batch_size=4) == expected


def test_progress_reports_items_done():
    calls = []
    map_batches(square_all, list(range(10)), 1, 4, progress=lambda *c: calls.append(c))
    assert calls == [(4, 10), (8, 10), (10, 10)]


def test_empty_input_and_bad_arguments():
    assert map_batches(square_all, [], workers=2, batch_size=3) == []
    with pytest.raises(ValueError, match="workers must be at least 1"):
        map_batches(square_all, [1], workers=0, batch_size=3)
    with pytest.raises(ValueError, match="batch_size"):
        map_batches(square_all, [1], workers=1, batch_size=0)
    assert default_workers() >= 1
