"""The HTTP core every SDK client stands on: one sync and one async wrapper around httpx.

Both do the same three things, and nothing else: join paths to the vault's base URL, turn
transport failures into `TransportError`, and turn every error response (RFC 9457
problem+json, or an RFC 6749 error body from an OAuth endpoint) into the one error tree of
`clients.sdk._errors`. Reading the response is shared (`error_for`, `json_body`), so the two
wrappers cannot drift apart. The transport is injectable (`httpx.MockTransport` in tests,
`httpx.ASGITransport` to run against an app in-process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from clients.sdk._errors import (
    OAUTH_ERRORS,
    PROBLEM_SLUGS,
    SET_ERRORS,
    STATUS_FALLBACK,
    ProtocolError,
    RegieError,
    ServerError,
    TooManyRequests,
    TransportError,
    Unavailable,
)

USER_AGENT = "regie-sdk/0.1"
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def checked_base_url(base_url: str, *, allow_http: bool = False) -> str:
    """`base_url` without a trailing slash; plain http only for loopback (or when allowed).

    Tokens, assertions and residents' data travel over this connection: an http URL to
    another host is almost always a mistake, so it is refused unless asked for.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not allow_http:
        raise ValueError(
            f"refusing plain http to {parts.hostname}: use https (or allow_http=True for tests)"
        )
    return base_url.rstrip("/")


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or `ProtocolError` when it is not JSON."""
    try:
        return response.json()
    except ValueError as e:
        raise ProtocolError(
            f"expected JSON from {response.request.method} {response.request.url.path}",
            status=response.status_code,
        ) from e


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: callers fall back to their own backoff


def error_for(response: httpx.Response) -> RegieError:
    """The error an error response stands for. Never raises."""
    status = response.status_code
    body: dict[str, Any] = {}
    try:
        decoded = response.json()
        if isinstance(decoded, dict):
            body = decoded
    except ValueError:
        pass
    cls: type[RegieError] | None = None
    code: str | None = None
    if isinstance(body.get("error"), str):  # RFC 6749 §5.2
        code = body["error"]
        cls = OAUTH_ERRORS.get(code)
        detail = str(body.get("error_description") or code)
    elif isinstance(body.get("err"), str):  # RFC 8935 §2.3, RFC 8936 §2.4.4 (event polls)
        code = body["err"]
        cls = SET_ERRORS.get(code)
        detail = str(body.get("description") or code)
    else:  # RFC 9457
        slug = str(body.get("type") or "").rstrip("/").rsplit("/", 1)[-1]
        if slug:
            code = slug
            cls = PROBLEM_SLUGS.get(slug)
        detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
    if cls is None or status == 429:  # a 429 is a rate limit, whatever its body's code
        cls = STATUS_FALLBACK.get(status) or (ServerError if status >= 500 else RegieError)
    if issubclass(cls, (Unavailable, TooManyRequests)):
        return cls(detail, status=status, code=code, body=body, retry_after=_retry_after(response))
    return cls(detail, status=status, code=code, body=body)


def _path_of(url: str) -> str:
    """The path of a URL or path, for messages: never a query (it may hold a token)."""
    return urlsplit(url).path or "/"


def _raise_for(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise error_for(response)
    return response


class SyncHttp:
    """A blocking connection to one vault."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        allow_http: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = checked_base_url(base_url, allow_http=allow_http)
        self._client = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send; return a 2xx/3xx response or raise the matching `RegieError`."""
        return _raise_for(self.send(method, path, **kwargs))

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send; return the response whatever its status (the caller reads errors with
        `error_for`, e.g. to retry with a DPoP nonce). Transport failures still raise."""
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise TransportError(f"{method} {_path_of(path)}: {type(e).__name__}") from e

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """Like `request`, for bodies read in pieces (`iter_bytes`)."""
        try:
            with self._client.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                yield _raise_for(response)
        except httpx.TransportError as e:
            raise TransportError(f"{method} {_path_of(path)}: {type(e).__name__}") from e

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SyncHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncHttp:
    """A non-blocking connection to one vault."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        allow_http: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = checked_base_url(base_url, allow_http=allow_http)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send; return a 2xx/3xx response or raise the matching `RegieError`."""
        return _raise_for(await self.send(method, path, **kwargs))

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send; return the response whatever its status (the caller reads errors with
        `error_for`, e.g. to retry with a DPoP nonce). Transport failures still raise."""
        try:
            return await self._client.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise TransportError(f"{method} {_path_of(path)}: {type(e).__name__}") from e

    @asynccontextmanager
    async def stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """Like `request`, for bodies read in pieces (`aiter_bytes`)."""
        try:
            async with self._client.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    await response.aread()
                yield _raise_for(response)
        except httpx.TransportError as e:
            raise TransportError(f"{method} {_path_of(path)}: {type(e).__name__}") from e

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
