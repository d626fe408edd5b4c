"""Webhooks' pure rules: subscriptions, public names, the retry schedule, Retry-After,
disabling, Standard Webhooks signatures (checked by the standardwebhooks library) and the
SSRF classification of addresses."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.settings import Settings
from integrations.webhooks import domain
from servicekit.settings import Environment

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
segment = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
event_types = st.lists(segment, min_size=1, max_size=4).map(".".join)


def test_public_names_drop_platform_service_and_version() -> None:
    assert domain.public_type("quanzi.onboarding.membership.activated.v1") == (
        "membership.activated"
    )
    assert domain.public_type("quanzi.rewards.points.credited.v2") == "points.credited"
    assert domain.public_type("webhook.test") == "webhook.test"


@pytest.mark.parametrize(
    ("pattern", "kind", "selected"),
    [
        ("*", "membership.activated", True),
        ("membership.*", "membership.activated", True),
        ("membership.*", "membership", False),
        ("member.*", "membership.activated", False),  # whole segments only
        ("points.credited", "points.credited", True),
        ("points.credited", "points.debited", False),
    ],
)
def test_patterns_select_types(pattern: str, kind: str, selected: bool) -> None:
    assert domain.valid_pattern(pattern)
    assert domain.matches(pattern, kind) is selected


@pytest.mark.parametrize("bad", ["", "Membership.*", "a..b", "*.x", "a.*.b", "a.", " a", "a*"])
def test_malformed_patterns_are_refused(bad: str) -> None:
    assert not domain.valid_pattern(bad)


@given(event_types, st.lists(event_types, max_size=3))
def test_a_prefix_selects_exactly_the_types_below_it(kind: str, extra: list[str]) -> None:
    head = kind.split(".")[0]
    assert domain.subscribed([f"{head}.*"], kind) is ("." in kind)
    assert domain.subscribed([kind, *extra], kind)
    assert domain.subscribed(["*"], kind)
    assert domain.subscribed([], domain.TEST_EVENT)  # the test event reaches any endpoint


def test_the_retry_schedule_then_failed() -> None:
    delays = [domain.next_delay(n) for n in range(1, domain.MAX_ATTEMPTS + 1)]
    assert delays == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
        None,  # the 8th attempt failed: no more
    ]


@given(st.integers(1, 7), st.integers(0, 200_000))
def test_retry_after_postpones_never_hastens_and_is_capped(attempts: int, seconds: int) -> None:
    plain = domain.next_delay(attempts)
    delay = domain.next_delay(attempts, timedelta(seconds=seconds))
    assert plain is not None and delay is not None
    assert plain <= delay <= max(plain, timedelta(hours=10))


def test_retry_after_as_seconds_or_http_date() -> None:
    assert domain.parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert domain.parse_retry_after("Tue, 01 Dec 2026 08:10:00 GMT", NOW) == timedelta(minutes=10)
    assert domain.parse_retry_after("Tue, 01 Dec 2026 07:00:00 GMT", NOW) == timedelta(0)
    assert domain.parse_retry_after("soon", NOW) is None
    assert domain.parse_retry_after(None, NOW) is None


def test_only_2xx_is_delivered() -> None:
    assert [domain.delivered(s) for s in (200, 204, 299, 300, 302, 404, 500, None)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_an_endpoint_failing_for_days_is_disabled() -> None:
    days = timedelta(days=5)
    assert not domain.should_disable(None, NOW, days)
    assert not domain.should_disable(NOW - days + timedelta(seconds=1), NOW, days)
    assert domain.should_disable(NOW - days, NOW, days)


def test_signatures_verify_with_the_standardwebhooks_library() -> None:
    secret = domain.new_secret()
    assert secret.startswith("whsec_")
    body = domain.body("membership.activated", NOW, {"member_id": "crm-1", "name": "小林"})
    assert json.loads(body)["data"]["name"] == "小林"
    headers = domain.headers("msg_1", datetime.now(UTC), body, [secret])
    assert Webhook(secret).verify(body.encode(), headers)["type"] == "membership.activated"
    with pytest.raises(WebhookVerificationError):
        Webhook(domain.new_secret()).verify(body.encode(), headers)


def test_during_a_rotation_both_secrets_sign() -> None:
    old, new = domain.new_secret(), domain.new_secret()
    until = NOW + timedelta(hours=24)
    assert domain.signing_secrets(new, old, until, NOW) == [new, old]
    assert domain.signing_secrets(new, old, until, until) == [new]
    body = domain.body("points.credited", NOW, {"points": 5})
    headers = domain.headers("msg_2", datetime.now(UTC), body, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(body, headers)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", domain.Blocked.LOOPBACK),
        ("127.8.9.10", domain.Blocked.LOOPBACK),
        ("::1", domain.Blocked.LOOPBACK),
        ("::ffff:127.0.0.1", domain.Blocked.LOOPBACK),
        ("10.1.2.3", domain.Blocked.PRIVATE),
        ("172.16.0.1", domain.Blocked.PRIVATE),
        ("192.168.1.1", domain.Blocked.PRIVATE),
        ("100.64.0.1", domain.Blocked.PRIVATE),
        ("fd12::1", domain.Blocked.PRIVATE),
        ("169.254.169.254", domain.Blocked.METADATA),
        ("100.100.100.200", domain.Blocked.METADATA),
        ("fd00:ec2::254", domain.Blocked.METADATA),
        ("169.254.1.1", domain.Blocked.LINK_LOCAL),
        ("fe80::1", domain.Blocked.LINK_LOCAL),
        ("0.0.0.0", domain.Blocked.PRIVATE),
        ("224.0.0.1", domain.Blocked.RESERVED),
        ("not-an-ip", domain.Blocked.RESERVED),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_ssrf_classification(address: str, reason: domain.Blocked | None) -> None:
    assert domain.blocked(address) is reason


def test_names_and_resolutions() -> None:
    assert domain.refused_host("localhost") is domain.Blocked.LOOPBACK
    assert domain.refused_host("api.localhost") is domain.Blocked.LOOPBACK
    assert domain.refused_host("10.0.0.1") is domain.Blocked.PRIVATE
    assert domain.refused_host("crm.example.com") is None
    # One private address among public ones refuses the name whole.
    assert domain.first_allowed(["93.184.216.34", "127.0.0.1"]) == (None, domain.Blocked.LOOPBACK)
    assert domain.first_allowed(["93.184.216.34"]) == ("93.184.216.34", None)
    assert domain.first_allowed([]) == (None, None)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://crm.example.com/x",
        "https://",
        "https://user:pw@crm.example.com/x",
        "https://crm.example.com/x#f",
        "https://crm.example.com:99999/x",
        "http://crm.example.com/x",
        "not a url",
    ],
)
def test_urls_refused(url: str) -> None:
    with pytest.raises(domain.InvalidEndpoint):
        domain.target(url, allow_http=False)


def test_urls_accepted() -> None:
    assert domain.target("https://CRM.example.com./hooks?a=1", allow_http=False) == domain.Target(
        "https", "crm.example.com", 443
    )
    assert domain.target("http://[::1]:8080/x", allow_http=True).literal


def test_private_targets_are_development_settings() -> None:
    assert Settings(webhooks_allow_private=True, webhooks_allow_http=True).webhooks_allow_private
    production = {"environment": Environment.PRODUCTION, "secret_key": "a-real-one"}
    assert not Settings(**production).webhooks_allow_private  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="private"):
        Settings(webhooks_allow_private=True, **production)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="http"):
        Settings(webhooks_allow_http=True, **production)  # type: ignore[arg-type]


# --- rate limits ---------------------------------------------------------------------------


@settings(deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=40),
    st.floats(min_value=0.5, max_value=domain.MAX_RATE_PER_S),
)
def test_reserved_slots_are_spaced_by_the_rate_and_never_before_now(
    offsets_ms: list[int], rate: float
) -> None:
    """Claims at any (non-decreasing) instants: every slot is at or after its claim, each
    at least 1/rate after the previous one, and a claim after a quiet spell goes at once."""
    nows = [NOW + timedelta(milliseconds=ms) for ms in sorted(offsets_ms)]
    next_free = None
    slots = []
    for now in nows:
        slot, next_free = domain.reserve(next_free, now, rate)
        assert slot >= now
        assert next_free == slot + timedelta(seconds=1 / rate)
        slots.append(slot)
    gap = timedelta(seconds=1 / rate)
    for earlier, later in itertools.pairwise(slots):
        assert later - earlier >= gap - timedelta(microseconds=1)
    # After a quiet spell the next one goes at its claim.
    quiet = slots[-1] + timedelta(hours=1)
    assert domain.reserve(next_free, quiet, rate)[0] == quiet


def test_without_a_limit_nothing_is_reserved_and_near_slots_go_now() -> None:
    later = NOW + timedelta(seconds=30)
    assert domain.reserve(later, NOW, None) == (NOW, later)
    assert domain.goes_now(NOW + domain.RATE_HORIZON, NOW)
    assert not domain.goes_now(NOW + domain.RATE_HORIZON + timedelta(microseconds=1), NOW)


@given(
    st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=30),
    st.floats(min_value=0.5, max_value=100),
)
def test_a_process_starts_attempts_to_an_endpoint_one_interval_apart(
    earliest: list[float], rate: float
) -> None:
    """Slots handed over together (timers that fired late) still start 1/rate apart, each no
    earlier than its own slot."""
    last = None
    starts = []
    for at in earliest:
        last = domain.next_start(last, at, rate)
        starts.append(last)
    for at, start in zip(earliest, starts, strict=True):
        assert start >= at
    for a, b in itertools.pairwise(starts):
        assert b - a >= 1 / rate - 1e-9
