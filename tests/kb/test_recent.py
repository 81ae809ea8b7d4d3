"""The bounded map of recent callers behind rate limits and sign-in audits."""

from __future__ import annotations

import pytest

from kb.recent import RecentMap


def test_entries_untouched_for_the_ttl_are_forgotten() -> None:
    recent: RecentMap[str, int] = RecentMap(ttl_seconds=60, capacity=10)
    recent.put("a", 1, now=0)
    assert recent.get("a", now=59.9) == (1, 0)
    assert recent.get("a", now=60) is None
    assert len(recent) == 0


def test_past_the_capacity_the_least_recently_touched_go_first() -> None:
    recent: RecentMap[str, int] = RecentMap(ttl_seconds=60, capacity=2)
    recent.put("a", 1, now=0)
    recent.put("b", 2, now=1)
    recent.put("a", 3, now=2)  # touched again: "b" is now the oldest
    recent.put("c", 4, now=3)
    assert [recent.get(k, now=4) for k in ("a", "b", "c")] == [(3, 2), None, (4, 3)]


def test_a_map_without_room_is_refused() -> None:
    with pytest.raises(ValueError):
        RecentMap(ttl_seconds=1, capacity=0)
