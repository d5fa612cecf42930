"""One browser request as the app sees it: language, session, CSRF token, the SDK client.

Views start with `Visit(request, app)`; they render with `visit.page(...)`, which sets the
cookies the visit needs (the pre-session cookie on a first visit) on the response.

A visit is in one of two areas, by its path: the resident's pages, or the auditors' under
`/auditor/` (`AUDITOR_AREA`). Each area reads only its own session cookie and token kind
(`rgs_…` or `rga_…`), so a resident's session never opens an auditor page, nor the other way
round; the CSRF token binds to the area's session (or, before sign-in, the shared
pre-session cookie).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from clients.app import texts
from clients.app.security import CookieNames, CsrfTokens, local_path, new_pre_session, same_origin
from clients.sdk._http import AsyncHttp
from clients.sdk.auditor import AsyncAuditorClient
from clients.sdk.resident import AsyncResidentClient, LogKey, Mandate

AUDITOR_AREA = "/auditor"


class FormRefused(Exception):
    """A POST without a valid CSRF token, or from another origin: nothing was done."""


class NotSignedIn(Exception):
    """The page needs a signed-in resident (or the API said the session has ended)."""


@dataclass(frozen=True)
class AppState:
    public_url: str
    cookies: CookieNames
    csrf: CsrfTokens
    http: AsyncHttp
    templates: Jinja2Templates
    max_upload_bytes: int
    # The verifiable log's key as the API first served it to this app (clients/app/proof.py).
    log_key: dict[str, LogKey] = field(default_factory=dict)


@dataclass(frozen=True)
class Acting:
    """The acting context of a page under `/people/{mandate_id}/...`: the signed-in
    resident acts for the mandate's principal (or a parent in a child's vault).

    Set by `clients.app.acting.under_mandate` after it found the mandate among those the
    resident holds; the views then use `Visit.client` (which carries `Regie-Act-For`) and
    `Visit.base` (this prefix) and show only what `may` allows. The API has the last word.
    """

    mandate: Mandate
    name: str

    @property
    def prefix(self) -> str:
        return f"/people/{self.mandate.id}"

    def may(self, action: str, category: str | None = None) -> bool:
        if action not in self.mandate.actions:
            return False
        return category is None or category in self.mandate.categories


MAX_FORM_BYTES = 64 * 1024  # every form but the file upload is small


class Visit:
    def __init__(self, request: Request) -> None:
        state: AppState = request.app.state.regie
        self.request = request
        self.state = state
        names = state.cookies
        lang = request.cookies.get(names.language, texts.DEFAULT_LANGUAGE)
        self.lang = lang if lang in texts.LANGUAGES else texts.DEFAULT_LANGUAGE
        path = request.url.path
        self.auditor_area = path == AUDITOR_AREA or path.startswith(AUDITOR_AREA + "/")
        self.session_cookie = names.auditor_session if self.auditor_area else names.session
        kind = "rga_" if self.auditor_area else "rgs_"
        token = request.cookies.get(self.session_cookie)
        self.token = token if token and token.startswith(kind) and len(token) < 200 else None
        pre = request.cookies.get(names.pre_session)
        self.new_pre = None if pre else new_pre_session()
        self.pre = pre or self.new_pre
        self.set_session: str | None = None
        self.clear_session = False
        self._form: FormData | None = None
        acting = getattr(request.state, "acting", None)
        self.acting: Acting | None = acting if isinstance(acting, Acting) else None

    # -- who ------------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    @property
    def own_client(self) -> AsyncResidentClient:
        """The signed-in resident's client for their own vault, even on an acting page."""
        if self.token is None or self.auditor_area:
            raise NotSignedIn
        return AsyncResidentClient(http=self.state.http, token=self.token)

    @property
    def client(self) -> AsyncResidentClient:
        """The client for the vault this page is about: one's own, or, on an acting page,
        the principal's (`Regie-Act-For`)."""
        own = self.own_client
        return own.acting_for(self.acting.mandate.id) if self.acting else own

    @property
    def base(self) -> str:
        """The path prefix of the vault this page is about: "" or `/people/{mandate_id}`."""
        return self.acting.prefix if self.acting else ""

    @property
    def home_path(self) -> str:
        """The overview of the vault this page is about."""
        return f"{self.acting.prefix}/home" if self.acting else "/"

    def may(self, action: str, category: str | None = None) -> bool:
        """Whether to show an action: always in one's own vault; under a mandate, only what
        it covers (the API checks again)."""
        return self.acting is None or self.acting.may(action, category)

    @property
    def auditor(self) -> AsyncAuditorClient:
        """The signed-in auditor's client (only on an auditor page)."""
        if self.token is None or not self.auditor_area:
            raise NotSignedIn
        return AsyncAuditorClient(http=self.state.http, token=self.token)

    @property
    def anonymous_auditor(self) -> AsyncAuditorClient:
        return AsyncAuditorClient(http=self.state.http)

    @property
    def area(self) -> str:
        """The path prefix of this visit's area: "" (residents) or "/auditor"."""
        return AUDITOR_AREA if self.auditor_area else ""

    @property
    def anonymous(self) -> AsyncResidentClient:
        return AsyncResidentClient(http=self.state.http)

    def require_signed_in(self) -> AsyncResidentClient:
        return self.client

    def require_auditor(self) -> AsyncAuditorClient:
        return self.auditor

    @property
    def csrf_token(self) -> str:
        binding = self.token or self.pre
        if binding is None:  # no session and no pre-session: nothing to bind a form to
            raise RuntimeError("a CSRF token needs a session or a pre-session")
        return self.state.csrf.token(binding)

    def t(self, key: str, **values: object) -> str:
        return texts.text(key, self.lang, **values)

    # -- forms ----------------------------------------------------------------------------

    async def form(self) -> FormData:
        """The posted form, after the CSRF and origin checks (else `FormRefused`)."""
        if self._form is not None:
            return self._form
        length = self.request.headers.get("content-length")
        if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            raise FormRefused
        if not same_origin(self.request.headers.get("origin"), self.state.public_url):
            raise FormRefused
        form = await self.request.form(max_files=0, max_fields=200, max_part_size=MAX_FORM_BYTES)
        self.check_token(form.get("csrf"))
        self._form = form
        return form

    def check_token(self, token: Any) -> None:
        if not self.state.csrf.check(
            self.token or self.pre, token if isinstance(token, str) else None
        ):
            raise FormRefused
        if self.new_pre is not None and not self.token:
            raise FormRefused  # a post without the cookie its token was made for

    # -- answers --------------------------------------------------------------------------

    def context(self, **values: Any) -> dict[str, Any]:
        return {
            "t": self.t,
            "lang": self.lang,
            "csrf": self.csrf_token,
            "signed_in": self.signed_in,
            "area": self.area,
            "acting": self.acting,
            "base": self.base,
            "may": self.may,
            "home_path": self.home_path,
            "path": self.request.url.path,
            # Where the language switch comes back to: this page, with its filters.
            "here": self.request.url.path
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            "has": lambda key: key in texts.TEXTS,
            "date": lambda d: texts.date(d, self.lang),
            "date_time": lambda d: texts.date_time(d, self.lang),
            **values,
        }

    def page(self, template: str, status: int = 200, **values: Any) -> Response:
        response = self.state.templates.TemplateResponse(
            self.request, template, self.context(**values), status_code=status
        )
        return self.finish(response)

    def redirect(self, path: str) -> Response:
        return self.finish(RedirectResponse(local_path(path), status_code=303))

    def sign_in_as(self, token: str) -> None:
        self.set_session = token
        self.token = token

    def sign_out_here(self) -> None:
        self.clear_session = True
        self.token = None

    def finish(self, response: Response) -> Response:
        names = self.state.cookies
        if self.new_pre is not None:
            self._cookie(response, names.pre_session, self.new_pre, samesite="strict")
        # Residents' sessions are Lax (a link from a mail opens the app signed in); auditors'
        # are Strict (no other site's link can run a logged query in their name).
        samesite = "strict" if self.auditor_area else "lax"
        if self.set_session is not None:
            self._cookie(response, self.session_cookie, self.set_session, samesite=samesite)
        elif self.clear_session:
            response.delete_cookie(
                self.session_cookie,
                path="/",
                secure=names.secure,
                httponly=True,
                samesite=samesite,  # type: ignore[arg-type]
            )
        return response

    def _cookie(self, response: Response, name: str, value: str, *, samesite: str) -> None:
        # No Max-Age: the cookie lives as long as the browser session; the API ends the
        # session after 30 idle minutes or 12 hours whatever the cookie says.
        response.set_cookie(
            name,
            value,
            path="/",
            secure=self.state.cookies.secure,
            httponly=True,
            samesite=samesite,  # type: ignore[arg-type]
        )
