"""Identity rules: login throttling, refresh rotation, role grants, API key format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import apikeys, lockout, refresh, roles, tenants

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
POLICY = lockout.Policy(max_failures=5, lockout=timedelta(minutes=15))


def fail(times: int, at: datetime = T0) -> lockout.LoginState:
    state = lockout.LoginState()
    for _ in range(times):
        state = lockout.after_failure(state, at, POLICY)
    return state


def test_first_failures_do_not_slow_down_then_backoff_grows() -> None:
    assert lockout.wait_before_attempt(fail(1), T0) == timedelta(0)
    assert lockout.wait_before_attempt(fail(2), T0) == timedelta(seconds=1)
    assert lockout.wait_before_attempt(fail(3), T0) == timedelta(seconds=2)
    assert lockout.wait_before_attempt(fail(3), T0 + timedelta(seconds=2)) == timedelta(0)


def test_max_failures_lock_the_account_then_the_lock_expires() -> None:
    locked = fail(5)
    assert locked.locked_until == T0 + timedelta(minutes=15)
    assert lockout.wait_before_attempt(locked, T0 + timedelta(minutes=14)) == timedelta(minutes=1)
    later = T0 + timedelta(minutes=16)
    assert lockout.wait_before_attempt(locked, later) == timedelta(0)
    # After the lock, counting starts again instead of locking at the first failure.
    assert lockout.after_failure(locked, later, POLICY).failures == 1


def test_success_clears_everything() -> None:
    assert lockout.after_success() == lockout.LoginState()


@given(st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=30))
def test_wait_is_never_negative_nor_longer_than_the_lockout(gaps: list[int]) -> None:
    state, now = lockout.LoginState(), T0
    for gap in gaps:
        now += timedelta(seconds=gap)
        wait = lockout.wait_before_attempt(state, now)
        assert timedelta(0) <= wait <= POLICY.lockout
        state = lockout.after_failure(state, now, POLICY)
        assert state.failures <= max(POLICY.max_failures, len(gaps))


def token(used: bool = False, revoked: bool = False, expired: bool = False) -> refresh.RefreshToken:
    return refresh.RefreshToken(
        expires_at=T0 - timedelta(seconds=1) if expired else T0 + timedelta(days=1),
        used_at=T0 if used else None,
        revoked_at=T0 if revoked else None,
    )


def test_refresh_verdicts() -> None:
    assert refresh.judge(token(), T0) is refresh.Verdict.ROTATE
    assert refresh.judge(token(used=True), T0) is refresh.Verdict.REUSED
    assert refresh.judge(token(expired=True), T0) is refresh.Verdict.REJECT
    # A revoked family stays revoked: no second revocation cascade.
    assert refresh.judge(token(used=True, revoked=True), T0) is refresh.Verdict.REJECT


def test_who_may_grant_what() -> None:
    owner, admin = frozenset({"owner"}), frozenset({"admin"})
    assert roles.may_grant(owner, frozenset({"owner"}))
    assert roles.may_grant(admin, frozenset({"operator", "content_officer"}))
    assert not roles.may_grant(admin, frozenset({"owner"}))
    assert not roles.may_grant(frozenset({"operator"}), frozenset({"operator"}))
    assert roles.unknown_roles(frozenset({"owner", "god"})) == {"god"}


def test_api_key_format_round_trips_and_rejects_lookalikes() -> None:
    raw = apikeys.format_key("abcdefgh", "S" * 43)
    assert apikeys.parse_key(raw) == apikeys.ParsedKey("abcdefgh", "S" * 43)
    for bad in (
        "",
        "qzk_abc_" + "S" * 43,
        "qzk_ABCDEFGH_" + "S" * 43,
        "xyz_abcdefgh_" + "S" * 43,
        "qzk_abcdefgh_short",
    ):
        assert apikeys.parse_key(bad) is None
    assert apikeys.unknown_scopes(frozenset({"read", "admin:all"})) == {"admin:all"}


def test_tenant_slugs() -> None:
    assert tenants.valid_slug("acme-fitness")
    for bad in ("ab", "-acme", "acme-", "Acme", "a" * 41, "acme_fitness", "北京"):
        assert not tenants.valid_slug(bad)
