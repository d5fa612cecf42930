"""The resident app's pages. Each view parses the form, calls the SDK, and renders a page.

Every state change is a POST with a CSRF token (`Visit.form`). Ids in paths are the API's
opaque ids; no resident data (names, titles, codes) ever goes into a URL.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from clients.app import proof as log_proof
from clients.app import texts
from clients.app.security import CSP, LOCAL_PATH_MAX, local_path, same_origin
from clients.app.upload import StreamedForm, UploadRefused
from clients.app.visit import FormRefused, Visit
from clients.sdk import _errors as sdk_errors
from clients.sdk.resident import AsyncResidentClient, Catalogue, Grant, LogEntry

# -- shared pieces ----------------------------------------------------------------------------

_catalogue: dict[str, Catalogue] = {}


async def catalogue(visit: Visit) -> Catalogue:
    """The record catalogue, fetched once per process (it changes only with a release)."""
    if "c" not in _catalogue:
        _catalogue["c"] = await visit.anonymous.catalogue()
    return _catalogue["c"]


def type_label(cat: Catalogue, code: str, lang: str) -> str:
    label = cat.type_label(code)
    return label.get(lang) if label else code


def category_label(cat: Catalogue, code: str, lang: str) -> str:
    c = cat.category(code)
    return c.label.get(lang) if c else code


def procedure_label(grant: Grant) -> str:
    p = grant.procedure
    return f"{p.description} ({p.ref})" if p.description else p.ref


def form_str(form: Any, name: str, limit: int = 10_000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def credential_of(form: Any) -> tuple[str, dict[str, Any]] | None:
    flow_id, raw = form_str(form, "flow_id", 64), form_str(form, "credential", 60_000)
    if not flow_id or not raw:
        return None
    try:
        credential = json.loads(raw)
    except ValueError:
        return None
    return (flow_id, credential) if isinstance(credential, dict) else None


def ceremony_json(visit: Visit, ceremony: Any) -> Response:
    response = JSONResponse({"flow_id": ceremony.flow_id, "public_key": ceremony.public_key})
    return visit.finish(response)


def content_rows(content: Any, prefix: str = "") -> list[tuple[str, str]]:
    """JSON content as (label, value) rows for reading, nested keys joined with ' › '."""
    if isinstance(content, dict):
        rows: list[tuple[str, str]] = []
        for key, value in content.items():
            rows += content_rows(value, f"{prefix} › {key}" if prefix else str(key))
        return rows
    if isinstance(content, list):
        rows = []
        for i, value in enumerate(content, 1):
            rows += content_rows(value, f"{prefix} {i}" if prefix else str(i))
        return rows
    if content is None:
        return [(prefix, "")] if prefix else []
    if isinstance(content, bool):
        return [(prefix, "✓" if content else "✗")]
    return [(prefix, str(content))]


def note_of(content: Any) -> str | None:
    """The text of a record the app made ({"text": ...}); None for other shapes."""
    if content is None:
        return ""
    if isinstance(content, dict) and set(content) == {"text"} and isinstance(content["text"], str):
        return content["text"]
    return None


async def service_names(client: AsyncResidentClient) -> dict[str, str]:
    return {g.service_id: g.service_name for g in await client.grants()}


async def names_if_allowed(visit: Visit) -> dict[str, str]:
    """Service names for "put there by ...", from the grants; under a mandate only when it
    may see them (`decide-requests`): asking anyway would be a refusal in the principal's
    log. Without them a record says "a service"."""
    return await service_names(visit.client) if visit.may("decide-requests") else {}


def not_covered(visit: Visit) -> Response:
    """A page for something the mandate does not cover (the app does not even ask)."""
    acting = visit.acting
    name = acting.name if acting else ""
    return visit.page(
        "error.html",
        403,
        title=visit.t("act.refused.title"),
        message=visit.t("act.refused.scope", name=name),
        next_path=visit.home_path,
        next_label=visit.t("act.home.back", name=name) if acting else visit.t("back.home"),
    )


async def opened(
    cm: AbstractAsyncContextManager[Any],
) -> tuple[Any, AsyncIterator[bytes]]:
    """Enter a streaming SDK call now (so its errors come before our response starts) and
    give back a body that closes it when the browser has read it all, or went away."""
    value = await cm.__aenter__()
    chunks = value[1] if isinstance(value, tuple) else value

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await cm.__aexit__(None, None, None)

    return value, body()


# -- welcome, sign up, sign in, sign out --------------------------------------------------------


async def home(request: Request) -> Response:
    visit = Visit(request)
    if not visit.signed_in:
        return visit.page("welcome.html")
    client = visit.client
    me = await client.me()
    waiting = await client.requests()
    grants = [g for g in await client.grants() if g.active]
    records = await client.records()
    looks = await client.log(limit=3, names=LOOKS)
    people = await client.people()
    # Requests for a child's data go to the parent: they wait here too, under the child's name.
    for_children: list[tuple[str, str, Grant]] = []
    for m in people.acting_for:
        if m.kind == "parent" and m.status == "active" and "decide-requests" in m.actions:
            try:
                asked = await client.acting_for(m.id).requests()
            except sdk_errors.AccessDenied:  # e.g. the mandate ran out just now: not on home
                continue
            for_children.extend((m.name, f"/people/{m.id}", g) for g in asked)
    cat = await catalogue(visit)
    seeing: dict[str, list[str]] = {}
    for g in grants:
        seeing.setdefault(g.service_name, [])
        for d in g.datatypes:
            label = type_label(cat, d, visit.lang)
            if label not in seeing[g.service_name]:
                seeing[g.service_name].append(label)
    return visit.page(
        "home.html",
        me=me,
        waiting=waiting,
        for_children=for_children,
        seeing=seeing,
        record_count=len(records),
        looks=looks.entries,
        for_me=sum(m.status == "active" for m in people.acting_for_me),
        i_act_for=sum(m.status == "active" and m.kind != "parent" for m in people.acting_for),
        children=sum(m.status == "active" and m.kind == "parent" for m in people.acting_for),
    )


async def sign_up_page(request: Request) -> Response:
    return Visit(request).page(
        "sign_up.html", name="", next=local_path(request.query_params.get("next"), "")
    )


async def sign_up_options(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    name = form_str(form, "display_name", 64)
    if not name:
        return visit.finish(JSONResponse({"error": visit.t("sign_up.name.missing")}, 422))
    return ceremony_json(visit, await visit.anonymous.begin_sign_up(name))


async def sign_up(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    name = form_str(form, "display_name", 64)
    # Back to where an account was needed (a service's sign-in request), after the codes.
    back = local_path(form_str(form, "next", LOCAL_PATH_MAX + 1), "")

    def again(status: int, key: str) -> Response:
        return visit.page("sign_up.html", status, name=name, error=visit.t(key), next=back)

    if not name:
        return again(422, "sign_up.name.missing")
    answer = credential_of(form)
    if answer is None:
        return again(422, "passkey.needs_js")
    try:
        signed = await visit.anonymous.finish_sign_up(answer[0], name, answer[1])
    except sdk_errors.AuthError:
        return again(401, "passkey.failed")
    visit.sign_in_as(signed.session_token)
    return visit.page("recovery_codes.html", codes=signed.recovery_codes, next=back)


async def sign_in_page(request: Request) -> Response:
    return Visit(request).page(
        "sign_in.html", next=local_path(request.query_params.get("next"), "")
    )


async def sign_in_options(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    return ceremony_json(visit, await visit.anonymous.begin_sign_in())


async def sign_in(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    answer = credential_of(form)
    # Back to where sign-in was needed (a service's sign-in request): a path on this site only.
    back = local_path(form_str(form, "next", LOCAL_PATH_MAX + 1), "")
    if answer is None:
        return visit.page("sign_in.html", 422, error=visit.t("passkey.needs_js"), next=back)
    try:
        signed = await visit.anonymous.finish_sign_in(*answer)
    except sdk_errors.AuthError as e:
        unknown = "not registered" in e.detail
        error = visit.t("passkey.unknown" if unknown else "passkey.failed")
        return visit.page("sign_in.html", 401, error=error, next=back)
    visit.sign_in_as(signed.session_token)
    return visit.redirect(back or "/")


async def recover_page(request: Request) -> Response:
    return Visit(request).page("recover.html")


async def recover(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    code = form_str(form, "code", 64)
    try:
        if not code:
            raise sdk_errors.AuthError("empty")
        signed = await visit.anonymous.recover(code)
    except sdk_errors.AuthError:
        return visit.page("recover.html", 401, error=visit.t("recover.invalid"))
    visit.sign_in_as(signed.session_token)
    return visit.redirect("/")


async def sign_out(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    if visit.signed_in:
        with contextlib.suppress(sdk_errors.AuthError):  # already ended: what was asked
            await visit.client.sign_out()
    visit.sign_out_here()
    return visit.page("signed_out.html", everywhere=False)


async def language(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    chosen = form_str(form, "lang", 4)
    response = visit.redirect(local_path(form_str(form, "next", 300)))
    if chosen in texts.LANGUAGES:
        response.set_cookie(
            visit.state.cookies.language,
            chosen,
            max_age=365 * 24 * 3600,
            path="/",
            secure=visit.state.cookies.secure,
            httponly=True,
            samesite="lax",
        )
    return response


# -- my data ----------------------------------------------------------------------------------


async def data(request: Request) -> Response:
    visit = Visit(request)
    client = visit.client
    records = await client.records()
    cat = await catalogue(visit)
    names = (
        await names_if_allowed(visit)
        if any(r.provenance.written_by == "service" for r in records)
        else {}
    )
    groups = []
    for c in cat.categories:
        mine = [r for r in records if r.category == c.code]
        if mine:
            groups.append((c.label.get(visit.lang), mine))
    return visit.page(
        "data.html",
        groups=groups,
        names=names,
        type_label=lambda code: type_label(cat, code, visit.lang),
    )


def _type_options(visit: Visit, cat: Catalogue) -> list[tuple[str, list[tuple[str, str]]]]:
    """The record types to choose from: under a mandate, of the categories it may write."""
    lang = visit.lang
    return [
        (c.label.get(lang), [(t.code, t.label.get(lang)) for t in c.types])
        for c in cat.categories
        if visit.may("write", c.code)
    ]


async def record_new_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_signed_in()
    if not visit.may("write"):
        return not_covered(visit)
    cat = await catalogue(visit)
    return visit.page("record_new.html", options=_type_options(visit, cat), values={})


async def record_new(request: Request) -> Response:
    visit = Visit(request)
    client = visit.client
    cat = await catalogue(visit)
    streamed, fields = await _read_upload(visit)
    record_type = fields.get("type", "")
    title = fields.get("title", "").strip()[:200]
    note = fields.get("text", "")[:100_000]
    error = None
    if cat.type_label(record_type) is None:
        error = visit.t("record.new.missing_type")
    elif not title:
        error = visit.t("record.new.missing_name")
    if error:
        return visit.page(
            "record_new.html",
            422,
            options=_type_options(visit, cat),
            values=fields,
            error=error,
        )
    category = record_type.split(".", 1)[0]
    file = streamed.file if streamed and streamed.file and streamed.file.filename else None
    try:
        if file is not None:
            record = await client.create_record(category, record_type, title, kind="file")
            await client.upload_file(
                record.id, file.chunks, filename=file.filename, media_type=file.media_type
            )
        else:
            record = await client.create_record(category, record_type, title, {"text": note})
    except UploadRefused:
        return visit.page(
            "record_new.html",
            413,
            options=_type_options(visit, cat),
            values=fields,
            error=visit.t("record.too_large"),
        )
    except sdk_errors.InvalidRequest as e:
        key = "record.too_large" if e.status == 413 else "error.invalid"
        return visit.page(
            "record_new.html",
            422,
            options=_type_options(visit, cat),
            values=fields,
            error=visit.t(key),
        )
    return visit.redirect(f"{visit.base}/data/{record.id}")


async def _read_upload(visit: Visit) -> tuple[StreamedForm | None, dict[str, str]]:
    """The fields of a form that may carry a file (multipart), after the CSRF check."""
    request = visit.request
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await visit.form()
        return None, {k: v for k, v in form.items() if isinstance(v, str)}
    if not same_origin(request.headers.get("origin"), visit.state.public_url):
        raise FormRefused
    try:
        streamed = StreamedForm(
            request, max_field_bytes=200_000, max_file_bytes=visit.state.max_upload_bytes
        )
        await streamed.read_fields()
    except UploadRefused as e:
        raise FormRefused from e
    visit.check_token(streamed.fields.get("csrf"))
    return streamed, streamed.fields


async def record(request: Request) -> Response:
    visit = Visit(request)
    client = visit.client
    record_id = request.path_params["record_id"]
    version = request.path_params.get("version")
    shown = await client.record(record_id, int(version) if version else None)
    current = shown if version is None else await client.record(record_id)
    versions = list(reversed(await client.versions(record_id)))
    cat = await catalogue(visit)
    names = await names_if_allowed(visit) if shown.provenance.written_by == "service" else {}
    return visit.page(
        "record.html",
        record=shown,
        current=current,
        versions=versions,
        note=note_of(shown.content),
        rows=content_rows(shown.content),
        service=names.get(shown.provenance.service_id or "", visit.t("data.a_service")),
        type_label=type_label(cat, shown.type, visit.lang),
        category_label=category_label(cat, shown.category, visit.lang),
        old=version is not None and int(version) != current.current_version,
    )


async def record_file(request: Request) -> Response:
    visit = Visit(request)
    client = visit.client
    version = request.query_params.get("version")
    number = int(version) if version and version.isdigit() else None
    (info, _), body = await opened(client.download_file(request.path_params["record_id"], number))
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.filename)}"}
    if info.size_bytes is not None:
        headers["Content-Length"] = str(info.size_bytes)
    # Downloads are served as attachments with nosniff: a file is never rendered as a page.
    return StreamingResponse(body, media_type=info.media_type, headers=headers)


async def record_edit_page(request: Request) -> Response:
    visit = Visit(request)
    shown = await visit.client.record(request.path_params["record_id"])
    if not visit.may("write", shown.category):
        return not_covered(visit)
    return visit.page(
        "record_edit.html",
        record=shown,
        note=note_of(shown.content),
        rows=content_rows(shown.content),
    )


async def record_edit(request: Request) -> Response:
    visit = Visit(request)
    client = visit.client
    record_id = request.path_params["record_id"]
    streamed, fields = await _read_upload(visit)
    shown = await client.record(record_id)
    title = fields.get("title", "").strip()[:200]
    note = note_of(shown.content)
    expected = fields.get("expected_version", "")

    def again(status: int, key: str) -> Response:
        return visit.page(
            "record_edit.html",
            status,
            record=shown,
            note=note,
            rows=content_rows(shown.content),
            error=visit.t(key),
        )

    if not title:
        return again(422, "record.new.missing_name")
    changes: dict[str, Any] = {}
    if title != (shown.title or ""):
        changes["title"] = title
    if shown.kind == "json" and note is not None and fields.get("text", note) != note:
        changes["content"] = {"text": fields.get("text", "")[:100_000]}
    file = streamed.file if streamed and streamed.file and streamed.file.filename else None
    try:
        if changes:
            await client.update_record(
                record_id,
                expected_version=int(expected) if expected.isdigit() else None,
                **changes,
            )
        if file is not None and shown.kind == "file":
            await client.upload_file(
                record_id, file.chunks, filename=file.filename, media_type=file.media_type
            )
        elif not changes:
            return again(422, "record.edit.nothing")
    except sdk_errors.Conflict:
        shown = await client.record(record_id)
        return again(409, "record.edit.stale")
    except UploadRefused:
        return again(413, "record.too_large")
    except sdk_errors.InvalidRequest as e:
        return again(422, "record.too_large" if e.status == 413 else "error.invalid")
    return visit.redirect(f"{visit.base}/data/{record_id}")


async def record_delete_page(request: Request) -> Response:
    visit = Visit(request)
    shown = await visit.client.record(request.path_params["record_id"])
    if not visit.may("write", shown.category):
        return not_covered(visit)
    return visit.page("record_delete.html", record=shown)


async def record_delete(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    client = visit.client
    record_id = request.path_params["record_id"]
    shown = await client.record(record_id)
    await client.delete_record(record_id)
    return visit.page(
        "done.html",
        message=visit.t("record.deleted", title=shown.title or visit.t("data.no_title")),
        next_path=f"{visit.base}/data",
        next_label=visit.t("record.back"),
    )


# -- a request ----------------------------------------------------------------------------------


async def request_page(request: Request) -> Response:
    visit = Visit(request)
    grant = await visit.client.grant(request.path_params["grant_id"])
    return await _request(visit, grant)


async def _request(
    visit: Visit,
    grant: Grant,
    status: int = 200,
    error: str | None = None,
    chosen: set[str] | None = None,
    back_to: str | None = None,
) -> Response:
    """The request screen; `back_to`: the service's redirect URI when the resident came in
    the browser flow (the form then posts to /authorize/... and may send the browser there)."""
    if grant.status != "requested":
        return visit.page(
            "done.html",
            message=visit.t("request.answered"),
            next_path=visit.home_path,
            next_label=visit.t("back.home"),
        )
    cat = await catalogue(visit)
    page = visit.page(
        "request.html",
        status,
        action=f"/authorize/{grant.id}" if back_to else f"{visit.base}/requests/{grant.id}",
        browser_flow=back_to is not None,
        grant=grant,
        procedure=procedure_label(grant),
        datatypes=[(d, type_label(cat, d, visit.lang)) for d in grant.requested.datatypes],
        chosen=chosen if chosen is not None else set(grant.requested.datatypes),
        may_write="write" in grant.requested.actions,
        until=texts.local(grant.requested.valid_until).date().isoformat(),
        today=datetime.now(texts.LOCAL_TIME).date().isoformat(),
        error=error,
    )
    if back_to is not None:
        # CSP form-action also governs where the form's answer redirects (Chrome checks the
        # redirect): allow exactly the service's origin, on this page only.
        page.headers["Content-Security-Policy"] = _csp_with_form_target(back_to)
    return page


ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _csp_with_form_target(url: str) -> str:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if not ORIGIN.match(origin):
        return CSP  # nothing odd goes into a header: the redirect is then blocked (fail closed)
    return CSP.replace("form-action 'self'", f"form-action 'self' {origin}")


def end_of_day(day: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(day).date()
    except ValueError:
        return None
    # Access lasts through the chosen day, in Dutch time.
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=texts.LOCAL_TIME).astimezone(UTC)


@dataclass(frozen=True)
class _Approval:
    datatypes: list[str] | None
    actions: list[str] | None
    valid_until: datetime | None


async def _decision(
    visit: Visit, grant: Grant, back_to: str | None = None
) -> Response | _Approval | None:
    """The resident's answer on the request screen: None to deny, what to approve, or the
    screen again with a kind error."""
    form = await visit.form()
    if form_str(form, "decision", 10) == "deny":
        return None
    asked = set(grant.requested.datatypes)
    chosen = {d for d in form.getlist("datatypes") if isinstance(d, str)} & asked
    if not chosen:
        return await _request(visit, grant, 422, visit.t("request.none_chosen"), chosen, back_to)
    asked_end = grant.requested.valid_until
    until = end_of_day(form_str(form, "until", 10)) if form_str(form, "until", 10) else None
    if until is not None and (until <= datetime.now(UTC)):
        return await _request(
            visit,
            grant,
            422,
            visit.t("request.bad_date", date=texts.date(asked_end, visit.lang)),
            chosen,
            back_to,
        )
    read_only = form_str(form, "read_only", 4) == "yes" and "write" in grant.requested.actions
    return _Approval(
        datatypes=[d for d in grant.requested.datatypes if d in chosen]
        if chosen != asked
        else None,
        actions=["read"] if read_only else None,
        valid_until=until if until is not None and until < asked_end else None,
    )


async def request_answer(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    client = visit.client
    grant = await client.grant(request.path_params["grant_id"])
    if grant.status != "requested":
        return await _request(visit, grant)
    try:
        decided = await _decision(visit, grant)
        if isinstance(decided, Response):
            return decided
        if decided is None:
            await client.deny(grant.id)
            return visit.page(
                "done.html",
                message=visit.t("request.denied", service=grant.service_name),
                next_path=visit.home_path,
                next_label=visit.t("back.home"),
            )
        await client.approve(
            grant.id,
            datatypes=decided.datatypes,
            actions=decided.actions,
            valid_until=decided.valid_until,
        )
    except sdk_errors.InvalidRequest:
        fresh = await client.grant(grant.id)
        return await _request(visit, fresh, 422, visit.t("error.invalid"))
    return visit.page(
        "done.html",
        message=visit.t("request.approved", service=grant.service_name),
        next_path=f"{visit.base}/access",
        next_label=visit.t("home.seeing.all"),
    )


# -- a service's sign-in request: the browser flow (authorization code + PKCE) ------------------


def _authorize_refused(visit: Visit) -> Response:
    # Nothing here can be trusted to send the browser back to: a kind page, never a redirect.
    return visit.page(
        "error.html", 400, title=visit.t("authorize.bad.title"), message=visit.t("authorize.bad")
    )


async def authorize(request: Request) -> Response:
    """`GET /oauth/authorize?client_id=...&request_uri=...` (RFC 9126 §4): only pushed
    requests; sign in first if needed, then the request screen."""
    visit = Visit(request)
    query = request.query_params
    client_ids, request_uris = query.getlist("client_id"), query.getlist("request_uri")
    if len(client_ids) != 1 or len(request_uris) != 1:
        return _authorize_refused(visit)
    back = urlencode({"client_id": client_ids[0], "request_uri": request_uris[0]})
    sign_in_first = "/sign-in?" + urlencode({"next": f"{request.url.path}?{back}"})
    if not visit.signed_in:
        return visit.redirect(sign_in_first)
    try:
        found = await visit.client.start_authorization(client_ids[0], request_uris[0])
    except (sdk_errors.NotFound, sdk_errors.InvalidRequest):
        return _authorize_refused(visit)
    except sdk_errors.AuthError:  # the session ended meanwhile: sign in, then come back
        visit.sign_out_here()
        return visit.redirect(sign_in_first)
    return visit.redirect(f"/authorize/{found.grant_id}")


async def authorization_page(request: Request) -> Response:
    visit = Visit(request)
    grant_id = str(request.path_params["grant_id"])
    found = await visit.client.authorization(grant_id)
    return await _request(visit, await visit.client.grant(grant_id), back_to=found.redirect_uri)


async def authorization_answer(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    client = visit.client
    grant_id = str(request.path_params["grant_id"])
    found = await client.authorization(grant_id)
    grant = await client.grant(grant_id)
    if grant.status != "requested":
        return await _request(visit, grant, back_to=found.redirect_uri)
    try:
        decided = await _decision(visit, grant, found.redirect_uri)
        if isinstance(decided, Response):
            return decided
        if decided is None:
            target = await client.deny_authorization(grant_id)
        else:
            target = await client.approve_authorization(
                grant_id,
                datatypes=decided.datatypes,
                actions=decided.actions,
                valid_until=decided.valid_until,
            )
    except sdk_errors.InvalidRequest:
        fresh = await client.grant(grant_id)
        return await _request(
            visit, fresh, 422, visit.t("error.invalid"), back_to=found.redirect_uri
        )
    # The one redirect off this site: to the redirect URI the service registered (checked at
    # the pushed request), with the code or the refusal.
    return visit.finish(RedirectResponse(target, status_code=303))


# -- who sees what --------------------------------------------------------------------------------


async def access(request: Request) -> Response:
    visit = Visit(request)
    grants = await visit.client.grants()
    cat = await catalogue(visit)
    by_service: dict[str, tuple[str, list[Grant]]] = {}
    for g in grants:
        if g.active:
            by_service.setdefault(g.service_id, (g.service_name, []))[1].append(g)
    earlier = [g for g in grants if g.status in ("ended", "denied", "lapsed")]
    return visit.page(
        "access.html",
        services=by_service,
        earlier=earlier,
        labels=lambda g: ", ".join(type_label(cat, d, visit.lang) for d in g.datatypes),
        procedure=procedure_label,
    )


# -- who looked at my data: the access log -----------------------------------------------------

LOG_PAGE = 20
LOOKS = ("record.read", "record.list")  # a service looking at data, allowed or not


def _uuid_param(value: str | None) -> str | None:
    """A query parameter that must be a UUID; anything else is ignored (a stale link)."""
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def _checked(visit: Visit, entry: LogEntry) -> log_proof.ProofResult | None:
    """The entry's proof, checked here; None while the entry is not in the log yet."""
    client = visit.client
    if entry.log_index is None:
        return None
    try:
        answer = await client.log_proof(entry.id)
    except sdk_errors.NotFound:
        return None
    key = await log_proof.log_key(client, visit.state.log_key)
    return log_proof.check(answer, key, entry.id, entry.log_index)


async def log_page(request: Request) -> Response:
    visit = Visit(request)
    client = visit.client
    query = request.query_params
    cat = await catalogue(visit)
    here = f"{visit.base}/log"
    # Under a mandate, only its categories: the API shows no more of the principal's log.
    categories = [
        c
        for c in cat.categories
        if visit.acting is None or c.code in visit.acting.mandate.categories
    ]
    service = _uuid_param(query.get("service"))
    asked = query.get("category") or ""
    category = asked if any(c.code == asked for c in categories) else None
    before = _uuid_param(query.get("before"))
    filters = {k: v for k, v in (("service", service), ("category", category)) if v}
    try:
        page = await client.log(
            before=before, limit=LOG_PAGE, service_id=service, datatype=category
        )
    except sdk_errors.InvalidRequest:
        if before is None:
            raise
        # A link to a page that is not there (not an event of this log): the newest page.
        return visit.redirect(here + "?" + urlencode(filters) if filters else here)
    # Under a mandate too: the API proves an entry of the part of the log it shows.
    shown = _uuid_param(query.get("proof"))
    entry = next((e for e in page.entries if e.id == shown), None)
    checked = await _checked(visit, entry) if entry is not None else None

    def link(**changes: str) -> str:
        values = {**filters, **({"before": before} if before else {}), **changes}
        return here + "?" + urlencode(values) if values else here

    return visit.page(
        "log.html",
        entries=page.entries,
        services=page.services,
        categories=[(c.code, c.label.get(visit.lang)) for c in categories],
        service=service,
        category=category,
        filtered=bool(filters),
        shown=entry.id if entry else None,
        checked=checked,
        older=(here + "?" + urlencode({**filters, "before": page.next_before}))
        if page.next_before
        else None,
        newest=(here + "?" + urlencode(filters) if filters else here) if before else None,
        proof_link=lambda e: link(proof=e.id) + f"#e-{e.id}",
    )


async def grant_page(request: Request) -> Response:
    visit = Visit(request)
    grant = await visit.client.grant(request.path_params["grant_id"])
    cat = await catalogue(visit)
    return visit.page(
        "grant.html",
        grant=grant,
        procedure=procedure_label(grant),
        labels=", ".join(type_label(cat, d, visit.lang) for d in grant.datatypes),
    )


async def stop_page(request: Request) -> Response:
    visit = Visit(request)
    grant = await visit.client.grant(request.path_params["grant_id"])
    if not grant.active:
        return visit.page(
            "done.html",
            message=visit.t("stop.already"),
            next_path=f"{visit.base}/access",
            next_label=visit.t("back"),
        )
    cat = await catalogue(visit)
    return visit.page(
        "stop.html",
        grant=grant,
        procedure=procedure_label(grant),
        labels=", ".join(type_label(cat, d, visit.lang) for d in grant.datatypes),
    )


async def stop(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    client = visit.client
    grant = await client.grant(request.path_params["grant_id"])
    if not grant.active:
        return visit.page(
            "done.html",
            message=visit.t("stop.already"),
            next_path=f"{visit.base}/access",
            next_label=visit.t("back"),
        )
    await client.revoke(grant.id)
    return visit.page(
        "done.html",
        message=visit.t("stop.done", service=grant.service_name),
        next_path=f"{visit.base}/access",
        next_label=visit.t("back"),
    )


async def _service_name(client: AsyncResidentClient, service_id: str) -> str | None:
    return next((g.service_name for g in await client.grants() if g.service_id == service_id), None)


async def stop_service_page(request: Request) -> Response:
    visit = Visit(request)
    service_id = str(request.path_params["service_id"])  # a UUID: the SDK has strings
    name = await _service_name(visit.client, service_id)
    if name is None:
        raise sdk_errors.NotFound("no grants for this service")
    return visit.page(
        "stop_service.html",
        service_id=service_id,
        service=name,
        # Under a mandate: only the data the representative arranges for the principal.
        consequence=visit.t("act.stop_service.consequence", service=name, name=visit.acting.name)
        if visit.acting
        else visit.t("stop_service.consequence", service=name),
    )


async def stop_service(request: Request) -> Response:
    """Stop everything for a service; under a mandate, the API stops only what the mandate
    may decide on (what the representative sees), and the sentence says so."""
    visit = Visit(request)
    await visit.form()
    client = visit.client
    service_id = str(request.path_params["service_id"])  # a UUID: the SDK has strings
    name = await _service_name(client, service_id)
    if name is None:
        raise sdk_errors.NotFound("no grants for this service")
    await client.revoke_service(service_id)
    return visit.page(
        "done.html",
        message=visit.t("act.stop_service.done", service=name, name=visit.acting.name)
        if visit.acting
        else visit.t("stop_service.done", service=name),
        next_path=f"{visit.base}/access",
        next_label=visit.t("back"),
    )


async def _procedure(client: AsyncResidentClient, procedure_id: str) -> Grant | None:
    return next((g for g in await client.grants() if g.procedure.id == procedure_id), None)


async def close_page(request: Request) -> Response:
    visit = Visit(request)
    grant = await _procedure(visit.client, str(request.path_params["procedure_id"]))
    if grant is None:
        raise sdk_errors.NotFound("no such procedure")
    procedure = procedure_label(grant)
    return visit.page(
        "close.html",
        procedure_id=grant.procedure.id,
        procedure=procedure,
        consequence=visit.t("act.close.consequence", procedure=procedure, name=visit.acting.name)
        if visit.acting
        else visit.t("close.consequence", procedure=procedure),
    )


async def close(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    client = visit.client
    grant = await _procedure(client, str(request.path_params["procedure_id"]))
    if grant is None:
        raise sdk_errors.NotFound("no such procedure")
    try:
        await client.close_procedure(grant.procedure.id)
    except sdk_errors.AccessDenied as e:
        acting = visit.acting
        if acting is None or e.reason not in ("category-not-in-scope", "action-not-in-scope"):
            raise
        # Under a mandate, a procedure is ended whole or not at all: one that also reaches
        # data outside the mandate is the principal's to end (the API refused, logged it).
        return visit.page(
            "error.html",
            403,
            title=visit.t("act.refused.title"),
            message=visit.t(
                "act.close.refused", name=acting.name, procedure=procedure_label(grant)
            ),
            next_path=f"{visit.base}/access",
            next_label=visit.t("back"),
        )
    return visit.page(
        "done.html",
        message=visit.t("close.done", procedure=procedure_label(grant)),
        next_path=f"{visit.base}/access",
        next_label=visit.t("back"),
    )


# -- connect a service --------------------------------------------------------------------------


async def connect_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_signed_in()
    return visit.page("connect.html", code=None)


async def connect(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    code = await visit.client.connection_code()
    return visit.page("connect.html", code=code)


# -- account ----------------------------------------------------------------------------------


async def account(request: Request, *, notice: str | None = None) -> Response:
    visit = Visit(request)
    client = visit.client
    return visit.page(
        "account.html",
        me=await client.me(),
        sessions=list(reversed(await client.sessions())),
        passkeys=await client.passkeys(),
        notice=notice,
    )


async def account_page(request: Request) -> Response:
    return await account(request)


async def end_session(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    with contextlib.suppress(sdk_errors.NotFound):  # already ended: what was asked
        await visit.client.end_session(request.path_params["session_id"])
    return await account(request, notice=visit.t("account.session.ended"))


async def sign_out_everywhere(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    await visit.client.sign_out_everywhere()
    visit.sign_out_here()
    return visit.page("signed_out.html", everywhere=True)


async def add_key_options(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    return ceremony_json(visit, await visit.client.begin_add_passkey())


async def add_key(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    answer = credential_of(form)
    if answer is None:
        return await account(request, notice=visit.t("passkey.needs_js"))
    try:
        await visit.client.finish_add_passkey(*answer)
    except sdk_errors.AuthError:
        return await account(request, notice=visit.t("passkey.failed"))
    return await account(request, notice=visit.t("account.key.added"))


async def confirm_options(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    return ceremony_json(visit, await visit.client.begin_reauthentication())


async def confirmed_with_passkey(visit: Visit) -> bool:
    """Finish the passkey confirmation carried by the form; False when it did not work."""
    answer = credential_of(await visit.form())
    if answer is None:
        return False
    try:
        await visit.client.finish_reauthentication(*answer)
    except sdk_errors.AuthError as e:
        if isinstance(e, sdk_errors.ReauthenticationRequired):
            raise
        if "not signed in" in e.detail:
            raise
        return False
    return True


async def new_codes(request: Request) -> Response:
    visit = Visit(request)
    if not await confirmed_with_passkey(visit):
        return await account(request, notice=visit.t("confirm.failed"))
    codes = await visit.client.new_recovery_codes()
    return visit.page("recovery_codes.html", codes=codes)


# -- export and delete --------------------------------------------------------------------------


async def export_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_signed_in()
    return visit.page("export.html")


async def export_download(request: Request) -> Response:
    visit = Visit(request)
    _, body = await opened(visit.client.export())
    return StreamingResponse(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="regie-export.zip"'},
    )


async def delete_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_signed_in()
    return visit.page("delete.html")


async def delete(request: Request) -> Response:
    visit = Visit(request)
    if not await confirmed_with_passkey(visit):
        return visit.page("delete.html", 401, error=visit.t("confirm.failed"))
    try:
        await visit.client.delete_vault()
    except sdk_errors.InvalidRequest:
        # The last parent of a child's vault (docs/people.md): nothing was deleted.
        return visit.page("delete.html", 422, error=visit.t("delete.children_first"))
    visit.sign_out_here()
    return visit.page("deleted.html")
