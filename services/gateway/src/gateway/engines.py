"""The HTTP clients the gateway forwards with: one shared session per process.

The team measured a FastAPI proxy over a shared ``httpx.AsyncClient`` at 0.06× direct
throughput with 64 connections (httpcore's pool is quadratic in waiting requests,
encode/httpx#3215) against 0.38× for aiohttp; ``bench/gateway.py`` keeps both engines side
by side (``HttpxEngine`` exists for that comparison only). Both raise the same two
failures, so the proxy's retry and breaker rules need not know which one runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal, Protocol

import aiohttp
import httpx
from yarl import URL

EngineName = Literal["aiohttp", "httpx"]
Body = bytes | AsyncIterator[bytes] | None

# Below uvicorn's 5 s keep-alive: never reuse a connection the upstream is about to close
# (a POST on such a connection would fail, and a POST is never retried).
KEEPALIVE_S = 4.0
CONNECTION_LIMIT = 512


class ConnectFailed(Exception):
    """No connection to the upstream: nothing was sent."""


class TransportFailed(Exception):
    """The connection broke during the exchange."""


class Reply(Protocol):
    """An upstream's answer whose head has arrived; the body is still to be read."""

    @property
    def status(self) -> int: ...

    @property
    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]: ...

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Engine(Protocol):
    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Body, timeout_s: float
    ) -> Reply: ...

    async def aclose(self) -> None: ...


class AiohttpReply:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.raw_headers = response.raw_headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except aiohttp.ClientError as error:
            raise TransportFailed(str(error)) from error

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_any():
            yield chunk

    async def aclose(self) -> None:
        # A fully read answer gives its connection back to the pool; a cut one drops it.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AiohttpEngine:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    @classmethod
    def open(cls, limit: int = CONNECTION_LIMIT) -> AiohttpEngine:
        connector = aiohttp.TCPConnector(
            limit=limit, keepalive_timeout=KEEPALIVE_S, ttl_dns_cache=60
        )
        session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # bytes pass through as the upstream encoded them
            cookie_jar=aiohttp.DummyCookieJar(),  # one client for all users: remember nothing
            # Send only what the client sent: no default Accept, Accept-Encoding (the
            # answer would be compressed for a client that never asked), User-Agent or
            # Content-Type.
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,
        )
        return cls(session)

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Body, timeout_s: float
    ) -> AiohttpReply:
        try:
            response = await self.session.request(
                method,
                URL(url, encoded=True),  # the path and query exactly as the client wrote them
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=self._timeout(timeout_s),
            )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            raise ConnectFailed(str(error)) from error
        except aiohttp.ServerTimeoutError as error:
            raise TimeoutError(str(error)) from error
        except aiohttp.ClientError as error:
            raise TransportFailed(str(error)) from error
        return AiohttpReply(response)

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        # The overall budget is the caller's (asyncio.timeout); these bound the connect and
        # each read of a streamed body, which outlives the budget of the head.
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
            self._timeouts[seconds] = timeout
        return timeout

    async def aclose(self) -> None:
        await self.session.close()


class HttpxReply:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.raw_headers = response.headers.raw

    async def read(self) -> bytes:
        try:
            return b"".join([chunk async for chunk in self._response.aiter_raw()])
        except httpx.TransportError as error:
            raise TransportFailed(str(error)) from error

    def chunks(self) -> AsyncIterator[bytes]:
        return self._response.aiter_raw()

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxEngine:
    """The engine the gateway had first; kept to be measured against (bench/gateway.py)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @classmethod
    def open(cls, limit: int = CONNECTION_LIMIT) -> HttpxEngine:
        limits = httpx.Limits(max_connections=limit, keepalive_expiry=KEEPALIVE_S)
        client = httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False)
        for name in ("accept", "accept-encoding", "user-agent"):
            del client.headers[name]  # send only what the client sent
        return cls(client)

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: Body, timeout_s: float
    ) -> HttpxReply:
        request = self.client.build_request(
            method, url, headers=headers, content=body, timeout=httpx.Timeout(timeout_s)
        )
        try:
            response = await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise ConnectFailed(str(error)) from error
        except httpx.TimeoutException as error:
            raise TimeoutError(str(error)) from error
        except httpx.TransportError as error:
            raise TransportFailed(str(error)) from error
        return HttpxReply(response)

    async def aclose(self) -> None:
        await self.client.aclose()


def open_engine(name: EngineName) -> Engine:
    if name == "httpx":
        return HttpxEngine.open()
    return AiohttpEngine.open()
