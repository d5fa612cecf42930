"""`local_path`, the one check between a `next` parameter and a Location header: only a path
on this site passes; every way of naming another site falls back to the default."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from clients.app.security import LOCAL_PATH_MAX, local_path

KEPT = [
    "/",
    "/access",
    "/oauth/authorize?client_id=huisarts-de-linde&request_uri=urn:ietf:params:oauth:request_uri:x",
    "/log?before=2026-12-01T10:00:00Z&service=a%2Fb",
    "/%2F%2Fevil.example",  # still a path here: browsers do not decode %2F into a host
    "/@evil.example",  # a path on this site, not userinfo
]

REFUSED = [
    None,
    "",
    "https://evil.example/",
    "http://localhost:8000/",  # even this site's own absolute URL: paths only
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "access",  # relative: resolved against wherever the browser is
    "//evil.example",
    "///evil.example",
    "//evil.example/oauth/authorize",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/access\\..\\..",
    "/\t/evil.example",  # browsers drop the tab: //evil.example
    "/\n/evil.example",
    "/\r\nSet-Cookie: regie-session=stolen",  # header splitting
    "/ /evil.example",
    "/\x00/evil.example",
    "/\u3000/evil.example",  # an ideographic space
    "/\uff0f\uff0fevil.example",  # fullwidth solidi, which some parsers fold into "//"
    "/ok" + "a" * LOCAL_PATH_MAX,
    " //evil.example",
]

# The encoded forms as they arrive in a query string: the app reads them decoded.
ENCODED = [
    "%2F%2Fevil.example",
    "%2F%5Cevil.example",
    "%2F%09%2Fevil.example",
    "%2F%0D%0ALocation:%20https://evil.example",
    "https%3A%2F%2Fevil.example",
    "%5C%5Cevil.example",
]


@pytest.mark.parametrize("value", KEPT)
def test_a_path_on_this_site_is_kept(value: str) -> None:
    assert local_path(value) == value


@pytest.mark.parametrize("value", REFUSED)
def test_another_site_falls_back_to_the_default(value: str | None) -> None:
    assert local_path(value) == "/"
    assert local_path(value, "") == ""


@pytest.mark.parametrize("value", ENCODED)
def test_encoded_attacks_are_refused_once_decoded(value: str) -> None:
    assert local_path(unquote(value)) == "/"
