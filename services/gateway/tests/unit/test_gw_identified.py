"""An identification is published when it is news: first seen, changed, or past the window."""

from __future__ import annotations

from gateway.domain.identified import RecentIdentifications, fingerprint


def test_the_same_identification_within_the_window_is_not_news() -> None:
    recent = RecentIdentifications(window_s=600)
    same = fingerprint("t1", "crm-1", {"display_name": "小林"})
    assert recent.is_news(same, now=0)
    recent.published(same, now=0)
    assert not recent.is_news(same, now=599)
    assert recent.is_news(same, now=600)  # the window passed: published again


def test_a_changed_profile_another_member_or_tenant_is_news() -> None:
    recent = RecentIdentifications(window_s=600)
    recent.published(fingerprint("t1", "crm-1", {"display_name": "小林"}), now=0)
    assert recent.is_news(fingerprint("t1", "crm-1", {"display_name": "小林", "city": "杭州"}), 1)
    assert recent.is_news(fingerprint("t1", "crm-2", {"display_name": "小林"}), now=1)
    assert recent.is_news(fingerprint("t2", "crm-1", {"display_name": "小林"}), now=1)


def test_key_order_of_a_profile_does_not_make_news() -> None:
    recent = RecentIdentifications(window_s=600)
    recent.published(fingerprint("t1", "m", {"a": 1, "b": 2}), now=0)
    assert not recent.is_news(fingerprint("t1", "m", {"b": 2, "a": 1}), now=1)


def test_the_oldest_are_forgotten_past_the_bound() -> None:
    recent = RecentIdentifications(window_s=600, max_remembered=2)
    first, second, third = (fingerprint("t", m, {}) for m in ("a", "b", "c"))
    for n, print_ in enumerate((first, second, third)):
        recent.published(print_, now=n)
    assert recent.is_news(first, now=3)  # forgotten: published again, never lost
    assert not recent.is_news(second, now=3) and not recent.is_news(third, now=3)
