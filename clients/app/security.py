"""The web app's own defences: cookies, CSRF tokens, and the headers every page carries.

- The browser holds the API's resident session token in one HttpOnly cookie; the app keeps
  no session state of its own, so the API's idle (30 min) and absolute (12 h) expiry are the
  app's too, and signing out anywhere ends it here.
- CSRF: every form carries a token that is an HMAC, under the app's secret, of what the
  browser is bound to: the session token once signed in, else a random pre-session cookie.
  A forged form post from another site cannot know either (both cookies are HttpOnly), and
  a cookie planted by a sibling domain does not help without the secret. POSTs whose Origin
  header names another origin are refused as well.
- Auditors (the pages under /auditor/) hold their API session (`rga_…`) in a cookie of
  their own, SameSite=Strict: the CSRF token binds to it there, and no link from another
  site can make an auditor's browser run a (logged) query.
- Cookies are Secure (and `__Host-` prefixed) unless the app runs on http://localhost, where
  browsers treat plain HTTP as secure enough for development.
- The Content-Security-Policy allows scripts and styles from this origin only: there is no
  inline script or style anywhere, so no nonce is needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)

PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer Chrome sends `Origin: null` on form
    # posts, and the origin check could not tell our own forms from a sandboxed attacker.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@dataclass(frozen=True, slots=True)
class CookieNames:
    session: str
    pre_session: str
    language: str
    secure: bool
    # An auditor's session (`rga_…`) in a cookie of its own: the resident pages never read
    # it and the auditor pages never read the resident's, so one kind cannot act as the other.
    auditor_session: str = "regie-auditor-session"

    @classmethod
    def for_origin(cls, public_url: str) -> CookieNames:
        parts = urlsplit(public_url)
        local = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")
        if local:
            return cls("regie-session", "regie-csrf", "regie-lang", False, "regie-auditor-session")
        # __Host-: Secure, Path=/, no Domain: a sibling domain cannot set or shadow them.
        return cls(
            "__Host-regie-session",
            "__Host-regie-csrf",
            "__Host-regie-lang",
            True,
            "__Host-regie-auditor-session",
        )


def new_pre_session() -> str:
    return secrets.token_urlsafe(32)


class CsrfTokens:
    """Tokens bound to a browser's session (or pre-session) cookie, checked in constant time."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the CSRF secret must be at least 32 bytes")
        self._key = hashlib.sha256(b"regie-app/csrf\x00" + secret).digest()

    def token(self, binding: str) -> str:
        mac = hmac.new(self._key, binding.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def check(self, binding: str | None, token: str | None) -> bool:
        if not binding or not token:
            return False
        return hmac.compare_digest(self.token(binding), token)


def same_origin(origin_header: str | None, public_url: str) -> bool:
    """True when the browser's Origin header is absent or names this app's origin."""
    if origin_header is None:
        return True  # older browsers on same-origin form posts; the token still decides
    return origin_header.rstrip("/") == public_url.rstrip("/")


# "/" and then visible ASCII only, never a second "/" or a backslash next: browsers read
# "//host" and "/\host" as another site, and drop tabs and newlines from a URL before they
# parse it, so "/<tab>/evil" would become "//evil" (and CR/LF would split the Location header).
_LOCAL_PATH = re.compile(r"/(?![/\\])[!-~]*")
LOCAL_PATH_MAX = 2000


def local_path(value: str | None, default: str = "/") -> str:
    """A path on this site to go back to (the `next` of a sign-in or sign-up, the page a
    language switch came from); anything else becomes `default`: an absolute URL, `//evil`,
    backslashes anywhere, control characters and spaces (decoded from %09, %0A, ... already
    when they came in a query), non-ASCII, or more than LOCAL_PATH_MAX characters. What is
    kept is only ever put in a Location header or an HTML attribute (escaped)."""
    if (
        not value
        or len(value) > LOCAL_PATH_MAX
        or "\\" in value
        or not _LOCAL_PATH.fullmatch(value)
    ):
        return default
    return value
