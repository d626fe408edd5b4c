"""Unit tests for gateway.proxy.RouteTable: longest prefix on path-segment boundaries."""

from __future__ import annotations

import pytest

from gateway.proxy import RouteTable
from gateway.settings import DEFAULT_ROUTES, DEFAULT_UPSTREAMS

UPSTREAMS = {
    "rewards": "http://rewards:8004",
    "ledger": "http://ledger:8005",
    "content": "http://content:8002",
    "root": "http://root:8000",
}


@pytest.fixture
def table() -> RouteTable:
    return RouteTable(
        {
            "/v1/rewards": "rewards",
            "/v1/rewards/ledger": "ledger",
            "/v1/content/": "content",
        },
        UPSTREAMS,
    )


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/rewards", "rewards"),
        ("/v1/rewards/", "rewards"),
        ("/v1/rewards/grants/42", "rewards"),
        ("/v1/rewards/ledger", "ledger"),
        ("/v1/rewards/ledger/", "ledger"),
        ("/v1/rewards/ledger/entries", "ledger"),
        ("/v1/rewards/ledgers", "rewards"),  # not the ledger segment
        ("/v1/content/", "content"),
        ("/v1/content/posts", "content"),
    ],
)
def test_longest_prefix_wins(table: RouteTable, path: str, service: str) -> None:
    assert table.resolve(path) == (service, UPSTREAMS[service])


@pytest.mark.parametrize(
    "path",
    [
        "/v1/rewardsX",
        "/v1/rewards-admin/x",
        "/v1/reward",
        "/v1/rewardsledger",
        "/v1",
        "/v1/",
        "/",
        "",
        "/v2/rewards",
        "/V1/rewards",
        "/v1/contentX",
        "/x/v1/rewards",
    ],
)
def test_no_match_off_a_segment_boundary(table: RouteTable, path: str) -> None:
    assert table.resolve(path) is None


def test_order_of_the_routes_does_not_matter() -> None:
    forwards = RouteTable({"/v1/a": "rewards", "/v1/a/b": "ledger"}, UPSTREAMS)
    backwards = RouteTable({"/v1/a/b": "ledger", "/v1/a": "rewards"}, UPSTREAMS)

    for table in (forwards, backwards):
        assert table.resolve("/v1/a/b/c") == ("ledger", UPSTREAMS["ledger"])
        assert table.resolve("/v1/a/c") == ("rewards", UPSTREAMS["rewards"])


def test_a_root_route_catches_everything_else() -> None:
    table = RouteTable({"/": "root", "/v1/rewards": "rewards"}, UPSTREAMS)

    assert table.resolve("/v1/rewards/x") == ("rewards", UPSTREAMS["rewards"])
    assert table.resolve("/v1/rewardsX") == ("root", UPSTREAMS["root"])
    assert table.resolve("/anything") == ("root", UPSTREAMS["root"])


def test_routes_naming_an_unknown_upstream_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown upstreams") as caught:
        RouteTable({"/v1/rewards": "rewards", "/v1/shop": "shop", "/v1/x": "xyz"}, UPSTREAMS)

    assert "['shop', 'xyz']" in str(caught.value)


def test_upstreams_are_copied() -> None:
    upstreams = dict(UPSTREAMS)
    table = RouteTable({"/v1/rewards": "rewards"}, upstreams)
    upstreams["rewards"] = "http://changed"

    assert table.resolve("/v1/rewards") == ("rewards", UPSTREAMS["rewards"])


def test_default_routes_cover_every_default_upstream() -> None:
    table = RouteTable(DEFAULT_ROUTES, DEFAULT_UPSTREAMS)

    for name, base in DEFAULT_UPSTREAMS.items():
        assert table.resolve(f"/v1/{name}/x") == (name, base)
        assert table.resolve(f"/v1/{name}X") is None
