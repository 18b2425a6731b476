"""Contract of `AlertReader`'s timeline and of the cursors and limits of all its listings
(docs/projections.md 8.3), run on SQLite and DynamoDB Local. What every adapter promises is
in `test_alerts_contract.py`; the rows, walks and oracles come from `alert_rows`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.settings import Settings
from read_side.alerts import (
    AlertFilter,
    RuleFilter,
    TimelineFilter,
    encode_cursor,
)
from read_side.device_status import MAX_PAGE_SIZE, Page
from tests.hypothesis_profiles import examples
from tests.integration.read_models.alert_rows import (
    SHARED_AT,
    TENANT,
    Model,
    alerts_model,
    alerts_of,
    expected_timeline,
    timeline_of,
)
from write_side.errors import InvalidInput


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    yield from alerts_model(contract_settings)


# Timeline ----------------------------------------------------------------------------------


def timeline_filters(model: Model) -> list[TimelineFilter]:
    start, end = model.entries[5].recorded_at, model.entries[-6].recorded_at
    some = model.alerts[3]
    return [
        TimelineFilter(),
        TimelineFilter(newest_first=False),
        TimelineFilter(device_id=model.devices[0]),
        TimelineFilter(alert_id=some.alert_id, newest_first=False),
        TimelineFilter(rule_id=model.rules[2].rule_id),
        TimelineFilter(alert_id=some.alert_id, device_id=some.device_id, rule_id=some.rule_id),
        TimelineFilter(alert_id=some.alert_id, device_id=model.devices[2]),
        TimelineFilter(transitions=frozenset({"resolved", "acknowledged"})),
        TimelineFilter(states=frozenset({"open"}), severities=frozenset({"warning"})),
        TimelineFilter(start=start),
        TimelineFilter(end=end, newest_first=False),
        TimelineFilter(start=start, end=end, device_id=model.devices[1]),
        TimelineFilter(start=start, end=start),
    ]


def test_timeline_answers_the_matching_entries_by_key(model: Model) -> None:
    for criteria in timeline_filters(model):
        assert timeline_of(model, criteria) == expected_timeline(model, criteria), criteria


def test_timeline_time_bounds_are_inclusive(model: Model) -> None:
    exact = [e for e in model.entries if e.recorded_at == SHARED_AT]
    assert len(exact) == 2
    criteria = TimelineFilter(start=SHARED_AT, end=SHARED_AT, newest_first=False)
    assert timeline_of(model, criteria) == exact


@settings(max_examples=examples(25), deadline=None)
@given(data=st.data(), first=st.integers(1, 9))
def test_timeline_any_page_size_walks_the_matching_entries_once_in_order(
    model: Model, data: st.DataObject, first: int
) -> None:
    criteria = data.draw(st.sampled_from(timeline_filters(model)))
    assert timeline_of(model, criteria, first) == expected_timeline(model, criteria)


# Cursors and limits ------------------------------------------------------------------------


def listings(model: Model) -> dict[str, Callable[[int, str | None], Page[Any]]]:
    return {
        "rules": lambda n, after: model.reader.list_rules(TENANT, RuleFilter(), n, after),
        "alerts": lambda n, after: model.reader.list_alerts(TENANT, AlertFilter(), n, after),
        "timeline": lambda n, after: model.reader.timeline(TENANT, TimelineFilter(), n, after),
    }


KIND = {"rules": "r", "alerts": "a", "timeline": "t"}


@pytest.mark.parametrize("listing", KIND)
@pytest.mark.parametrize("first", [0, -3, MAX_PAGE_SIZE + 1])
def test_a_page_size_out_of_bounds_is_invalid_input_on_first(
    model: Model, listing: str, first: int
) -> None:
    with pytest.raises(InvalidInput) as raised:
        listings(model)[listing](first, None)
    assert raised.value.field == "first"


@pytest.mark.parametrize("listing", KIND)
def test_another_listings_cursor_or_a_malformed_one_is_invalid_input_on_after(
    model: Model, listing: str
) -> None:
    read = listings(model)[listing]
    page = read(1, None)
    assert page.next_cursor is not None
    foreign = [encode_cursor(kind, "x" * 16) for other, kind in KIND.items() if other != listing]
    for cursor in [*foreign, "", "%%%", encode_cursor(KIND[listing], "x" * 201), "ZDo"]:
        with pytest.raises(InvalidInput) as raised:
            read(1, cursor)
        assert raised.value.field == "after", cursor


def test_an_alert_cursor_outside_the_filters_time_range_answers_an_empty_last_page(
    model: Model,
) -> None:
    """A cursor is a position: one of an alert raised before `raisedFrom` (from a listing
    without the bound) has nothing of the bounded listing after it."""
    oldest, newest = model.alerts[-1], model.alerts[0]
    cursor = encode_cursor("a", oldest.raised_key)
    bounded = AlertFilter(raised_from=newest.raised_at)
    page = model.reader.list_alerts(TENANT, bounded, 10, cursor)
    assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize("newest_first", [True, False])
def test_a_timeline_cursor_outside_the_filters_time_range_answers_an_empty_last_page(
    model: Model, newest_first: bool
) -> None:
    first, last = model.entries[0], model.entries[-1]
    if newest_first:  # after the oldest entry, newest first, within a range of the newest
        criteria = TimelineFilter(start=last.recorded_at)
        cursor = encode_cursor("t", first.key)
    else:
        criteria = TimelineFilter(end=first.recorded_at, newest_first=False)
        cursor = encode_cursor("t", last.key)
    page = model.reader.timeline(TENANT, criteria, 10, cursor)
    assert (page.items, page.next_cursor) == ([], None)


def test_a_range_that_ends_before_it_starts_answers_an_empty_last_page(model: Model) -> None:
    later, earlier = model.alerts[0].raised_at, model.alerts[-1].raised_at
    page = model.reader.list_alerts(
        TENANT, AlertFilter(raised_from=later, raised_to=earlier), 5, None
    )
    assert (page.items, page.next_cursor) == ([], None)
    for newest_first in (True, False):
        criteria = TimelineFilter(start=later, end=earlier, newest_first=newest_first)
        entries = model.reader.timeline(TENANT, criteria, 5, None)
        assert (entries.items, entries.next_cursor) == ([], None)


def test_time_bounds_before_the_year_1000_still_bound(model: Model) -> None:
    """Time keys are compared as text: a year of fewer than four digits must still sort
    before 2026 (`strftime("%Y")` does not pad it on Linux)."""
    long_ago = datetime(999, 12, 31, tzinfo=UTC)
    assert alerts_of(model, AlertFilter(raised_to=long_ago)) == []
    assert alerts_of(model, AlertFilter(raised_from=long_ago)) == model.alerts
    assert timeline_of(model, TimelineFilter(end=long_ago)) == []
    assert timeline_of(model, TimelineFilter(start=long_ago, newest_first=False)) == model.entries
