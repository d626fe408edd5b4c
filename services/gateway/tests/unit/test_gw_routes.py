"""Unit tests for gateway.proxy.RouteTable (longest prefix on path-segment boundaries) and
the prefixes the proxy may serve before the gateway's own routes (``unshadowed``)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Host, Mount, Route

from gateway.app import create_app
from gateway.proxy import install_proxy
from gateway.routing import PROXY_PATH, RouteTable, ServicePrefixRoute, unshadowed
from gateway.settings import DEFAULT_ROUTES, DEFAULT_UPSTREAMS, Settings

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


def _route(path: str) -> Route:
    return Route(path, _endpoint)


async def _endpoint(request: Request) -> Response:
    return Response()


def test_a_prefix_no_own_route_reaches_goes_first() -> None:
    routes = [_route("/v1/me"), _route("/v1/operators/{operator_id}"), _route("/healthz")]
    assert unshadowed(["/v1/rewards", "/v1/content/"], routes) == ("/v1/rewards/", "/v1/content/")


@pytest.mark.parametrize(
    ("template", "kept"),
    [
        ("/v1/rewards/special", ("/v1/content/",)),  # an own route below one prefix
        ("/v1/rew{x}", ("/v1/content/",)),  # a parameter before that prefix ends
        ("/v1/{anything}", ()),  # a parameter before either ends
        ("/{path:path}", ()),
    ],
)
def test_a_prefix_an_own_route_may_match_below_keeps_its_place(
    template: str, kept: tuple[str, ...]
) -> None:
    assert unshadowed(["/v1/rewards", "/v1/content"], [_route(template)]) == kept


def test_an_own_route_that_is_the_prefix_itself_matches_nothing_below_it() -> None:
    assert unshadowed(["/v1/rewards"], [_route("/v1/rewards")]) == ("/v1/rewards/",)


def test_a_mount_shadows_what_lies_below_it() -> None:
    mount = Mount("/v1/rewards", routes=[])
    assert unshadowed(["/v1/rewards/ledger", "/v1/content"], [mount]) == ("/v1/content/",)


def test_a_route_whose_paths_are_unknown_turns_the_shortcut_off() -> None:
    host = Host("api.example", app=_endpoint)
    assert unshadowed(["/v1/rewards"], [_route("/healthz"), host]) == ()


def test_the_gateways_own_routes_shadow_no_service() -> None:
    """Included routers count with their own routes: the gateway's /v1/me, /v1/operators…
    lie beside the services' prefixes, never below them."""
    app = create_app(Settings())
    proxy_path = "/v1/{path:path}"
    own = [r for r in app.router.routes if getattr(r, "path", None) != proxy_path]
    expected = tuple(sorted(p + "/" for p in DEFAULT_ROUTES))
    assert tuple(sorted(unshadowed(DEFAULT_ROUTES, own))) == expected
    shadowing = _route("/v1/onboarding/gateway-side")
    assert "/v1/onboarding/" not in unshadowed(DEFAULT_ROUTES, [*own, shadowing])


def test_a_plain_route_of_an_included_router_turns_the_shortcut_off() -> None:
    """FastAPI keeps no path for a non-API route of an included router: unknown, so the
    proxy route keeps its place behind it."""
    router = APIRouter()
    router.add_route("/v1/rewards/gateway-side", _endpoint)
    app = FastAPI()
    app.include_router(router)
    assert unshadowed(["/v1/rewards", "/v1/content"], app.router.routes) == ()


async def test_every_start_leaves_one_shortcut_first_and_the_proxy_route_last() -> None:
    app = FastAPI()
    app.add_api_route("/v1/me", _endpoint)
    install_proxy(app, Settings())
    for _ in range(2):  # an app started twice (tests, a reload) must not pile routes up
        async with app.router.lifespan_context(app):
            routes = app.router.routes
            assert isinstance(routes[0], ServicePrefixRoute)
            assert sum(isinstance(r, ServicePrefixRoute) for r in routes) == 1
            proxies = [r for r in routes if getattr(r, "path", None) == PROXY_PATH]
            assert len(proxies) == 2 and proxies[-1] is routes[-1]
