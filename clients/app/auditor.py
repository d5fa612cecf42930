"""The auditors' pages, under /auditor/: enrol, sign in, the log's entries filtered and
paged, one entry with its proof checked here, the latest checkpoint, and the exports.

They are the resident app's mechanisms in another area (`clients/app/visit.py`): the same
CSRF tokens, cookies, headers, passkey script and kind errors, but the auditor's own session
cookie, and `AsyncAuditorClient` over the same in-process transport. An auditor sees what the
auditor API gives, metadata only (docs/audit-format.md), and every query these pages make is
one the API logs as the auditor's (`audit.query`, `audit.export`).

Filters travel in the query string (plain GET forms, no script): times as the browser's
`datetime-local` value, read as Dutch time; the service, purpose, outcome, actor and pseudonym as
the log writes them. They are checked here first, so a mistake gets a sentence next to the
form instead of an error page.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from clients.app import proof as log_proof
from clients.app import texts
from clients.app.views import ceremony_json, credential_of, form_str, opened
from clients.app.visit import Visit
from clients.sdk import _errors as sdk_errors
from clients.sdk.auditor import Checkpoint, LoggedEntry

PAGE = 50
MAX_INDEX = 2**62  # the API's own bound on positions in the log
OUTCOMES = ("permit", "deny", "done")
# Who acted (docs/audit-format.md); `operator`: a change at the command line, no resident's.
ACTORS = ("resident", "representative", "service", "auditor", "operator", "system")
_SUBJECT = re.compile(r"[0-9a-f]{64}")
_PURPOSE = re.compile(r"[!-~]{1,200}")
# The members shown on a list line, after index, time, name and outcome.
LINE_FIELDS = ("actor", "service_id", "datatype", "action", "purpose", "reason", "subject")


@dataclass
class Filters:
    """The filters of a query string: the values as typed (for the form and the links), the
    parsed ones (for the SDK), and a text key per field that did not parse."""

    raw: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def sdk(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "service_id": self.raw.get("service"),
            "purpose": self.raw.get("purpose"),
            "outcome": self.raw.get("outcome"),
            "subject": self.raw.get("subject"),
            "actor": self.raw.get("actor"),
        }

    def query(self, **more: object) -> str:
        values = {**self.raw, **{k: str(v) for k, v in more.items() if v is not None}}
        return urlencode(values)


def _local_time(value: str) -> datetime | None:
    """A `datetime-local` value (2026-12-01T09:00, seconds optional) in Dutch time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return None
    return moment.replace(tzinfo=texts.LOCAL_TIME)


def read_filters(query: Any) -> Filters:
    f = Filters()
    for name in ("since", "until", "service", "purpose", "outcome", "subject", "actor"):
        value = query.get(name)
        if isinstance(value, str) and value.strip():
            f.raw[name] = value.strip()[:300]
    for name in ("since", "until"):
        if name in f.raw:
            moment = _local_time(f.raw[name])
            if moment is None:
                f.errors[name] = "auditor.filter.bad_time"
            setattr(f, name, moment)
    if f.since and f.until and f.since >= f.until:
        f.errors["until"] = "auditor.filter.order"
    if "service" in f.raw:
        try:
            f.raw["service"] = str(uuid.UUID(f.raw["service"]))
        except ValueError:
            f.errors["service"] = "auditor.filter.bad_service"
    if "purpose" in f.raw and not _PURPOSE.fullmatch(f.raw["purpose"]):
        f.errors["purpose"] = "auditor.filter.bad_purpose"
    if "outcome" in f.raw and f.raw["outcome"] not in OUTCOMES:
        f.errors["outcome"] = "auditor.filter.bad_outcome"
    if "actor" in f.raw and f.raw["actor"] not in ACTORS:
        f.errors["actor"] = "auditor.filter.bad_actor"
    if "subject" in f.raw:
        f.raw["subject"] = f.raw["subject"].lower()
        if not _SUBJECT.fullmatch(f.raw["subject"]):
            f.errors["subject"] = "auditor.filter.bad_subject"
    return f


def _number(value: str | None, low: int = 0) -> int | None:
    """A non-negative integer query parameter; anything else is ignored (a stale link)."""
    if value is None or not value.isdigit() or len(value) > 19:
        return None
    n = int(value)
    return n if low <= n <= MAX_INDEX else None


def _time(value: str | None) -> str:
    """An entry's RFC 3339 time, in Dutch time to the second, with the zone's name."""
    if not value:
        return ""
    try:
        moment = texts.local(datetime.fromisoformat(value))
    except ValueError:
        return value
    return f"{moment:%Y-%m-%d %H:%M:%S} {moment.tzname()}"


def _context(visit: Visit) -> dict[str, Any]:
    return {
        "outcomes": OUTCOMES,
        "entry_time": lambda e: _time(e.entry.get("start_time")),
        "short": lambda v: v[:12] + "…" if v and len(v) > 16 else v,
        "event_label": lambda name: texts.event_label(name, visit.lang),
    }


# -- enrol, sign in, sign out -------------------------------------------------------------------


async def enrol_page(request: Request) -> Response:
    return Visit(request).page("auditor_enrol.html", code="")


async def enrol_options(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    code = form_str(form, "code", 64)
    if not code:
        return visit.finish(JSONResponse({"error": visit.t("auditor.enrol.missing")}, 422))
    try:
        ceremony = await visit.anonymous_auditor.begin_enrolment(code)
    except sdk_errors.AuthError:
        return visit.finish(JSONResponse({"error": visit.t("auditor.enrol.invalid")}, 422))
    return ceremony_json(visit, ceremony)


async def enrol(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    code = form_str(form, "code", 64)
    if not code:
        return visit.page(
            "auditor_enrol.html", 422, code="", error=visit.t("auditor.enrol.missing")
        )
    answer = credential_of(form)
    if answer is None:
        return visit.page("auditor_enrol.html", 422, code=code, error=visit.t("passkey.needs_js"))
    try:
        signed = await visit.anonymous_auditor.finish_enrolment(answer[0], code, answer[1])
    except sdk_errors.AuthError as e:
        key = "auditor.enrol.invalid" if "code" in e.detail else "passkey.failed"
        return visit.page("auditor_enrol.html", 401, code=code, error=visit.t(key))
    visit.sign_in_as(signed.session_token)
    return visit.redirect("/auditor")


async def sign_in_page(request: Request) -> Response:
    return Visit(request).page("auditor_sign_in.html")


async def sign_in_options(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    return ceremony_json(visit, await visit.anonymous_auditor.begin_sign_in())


async def sign_in(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    answer = credential_of(form)
    if answer is None:
        return visit.page("auditor_sign_in.html", 422, error=visit.t("passkey.needs_js"))
    try:
        signed = await visit.anonymous_auditor.finish_sign_in(*answer)
    except sdk_errors.AuthError as e:
        unknown = "not registered" in e.detail
        error = visit.t("auditor.sign_in.unknown" if unknown else "passkey.failed")
        return visit.page("auditor_sign_in.html", 401, error=error)
    visit.sign_in_as(signed.session_token)
    return visit.redirect("/auditor")


async def sign_out(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    if visit.signed_in:
        with contextlib.suppress(sdk_errors.AuthError):  # already ended: what was asked
            await visit.auditor.sign_out()
    visit.sign_out_here()
    return visit.page("auditor_signed_out.html")


# -- the log's entries ----------------------------------------------------------------------------


async def events(request: Request) -> Response:
    visit = Visit(request)
    client = visit.auditor
    f = read_filters(request.query_params)
    after = _number(request.query_params.get("after"))
    size = _number(request.query_params.get("size"))
    values: dict[str, Any] = {"filters": f, "errors": f.errors, **_context(visit)}
    if f.errors:
        return visit.page(
            "auditor_events.html", 422, page=None, error=visit.t("auditor.filter.fix"), **values
        )
    try:
        page = await client.events(
            **f.sdk, after=after if after is not None else -1, limit=PAGE, size=size
        )
    except sdk_errors.InvalidRequest:
        return visit.page(
            "auditor_events.html", 422, page=None, error=visit.t("auditor.filter.refused"), **values
        )
    except sdk_errors.NotFound:
        if size is None:  # no checkpoint signed yet: nothing is visible
            return visit.page(
                "auditor_events.html", page=None, notice=visit.t("auditor.events.none"), **values
            )
        # A `size` no checkpoint has (a stale link): start again at the latest.
        return visit.redirect("/auditor?" + f.query() if f.raw else "/auditor")
    pinned = page.checkpoint.size
    return visit.page(
        "auditor_events.html",
        page=page,
        filtered=bool(f.raw),
        next_link="/auditor?" + f.query(after=page.next_after, size=pinned)
        if page.next_after is not None
        else None,
        first_link=("/auditor?" + f.query() if f.raw else "/auditor")
        if after is not None
        else None,
        export_link="/auditor/export?" + f.query(size=pinned),
        detail_link=lambda e: f"/auditor/events/{e.index}?size={pinned}",
        filter_link=lambda **one: "/auditor?" + Filters(raw=dict(one)).query(),
        line_fields=LINE_FIELDS,
        **values,
    )


async def event(request: Request) -> Response:
    """One entry, every member, and its inclusion proof checked here against the checkpoint
    the list was read in (or the latest)."""
    visit = Visit(request)
    client = visit.auditor
    index = request.path_params["index"]
    size = _number(request.query_params.get("size"), low=1)
    if index >= MAX_INDEX:
        raise sdk_errors.NotFound("no such entry")
    try:
        page = await client.events(after=index - 1, limit=1, size=size)
    except sdk_errors.NotFound:
        if size is None:
            raise
        page = await client.events(after=index - 1, limit=1)
    found: LoggedEntry | None = next((e for e in page.events if e.index == index), None)
    if found is None:
        raise sdk_errors.NotFound("no such entry in the log (yet)")
    key = await log_proof.log_key(client, visit.state.log_key)
    proof = await client.inclusion_proof(index, page.checkpoint.size)
    checked = log_proof.check_entry(proof, key, index, found.entry)
    return visit.page(
        "auditor_event.html",
        entry=found,
        proof=proof,
        checked=checked,
        **_context(visit),
    )


# -- the checkpoint -------------------------------------------------------------------------------


async def checkpoint(request: Request) -> Response:
    """The latest checkpoint, its signature checked here; with `old`, that it extends the
    checkpoint of that size."""
    visit = Visit(request)
    client = visit.auditor
    key = await log_proof.log_key(client, visit.state.log_key)
    latest = await client.checkpoint()
    signed = log_proof.check_checkpoint(latest, key)
    raw_old = request.query_params.get("old", "").strip()
    consistent = None
    error = None
    if raw_old:
        old_size = _number(raw_old, low=1)
        if old_size is None or old_size > latest.size:
            error = visit.t("auditor.consistency.bad_size", size=latest.size)
        else:
            try:
                old: Checkpoint = await client.checkpoint(old_size)
            except sdk_errors.NotFound:  # the log signs per batch: not every size is signed
                error = visit.t("auditor.consistency.unknown_size", size=old_size)
            else:
                consistent = await log_proof.check_consistency(client, old, latest, key)
    return visit.page(
        "auditor_checkpoint.html",
        400 if error else 200,
        latest=latest,
        key=key,
        signed=signed,
        consistent=consistent,
        old=raw_old[:20],
        error=error,
        pasted=None,
        note="",
    )


async def check_pasted(request: Request) -> Response:
    """A checkpoint note the auditor kept, pasted in: its signature checked here under the
    pinned key, and the consistency proof from it to the latest checkpoint (or exactly why
    not: `clients.app.proof.check_pasted`)."""
    visit = Visit(request)
    client = visit.auditor
    form = await visit.form()
    key = await log_proof.log_key(client, visit.state.log_key)
    latest = await client.checkpoint()
    signed = log_proof.check_checkpoint(latest, key)
    note = form_str(form, "note")
    pasted = None
    error = None
    if not note.strip():
        error = visit.t("auditor.pasted.empty")
    elif len(note) > log_proof.MAX_PASTED_NOTE:
        error = visit.t("auditor.pasted.too_long", limit=log_proof.MAX_PASTED_NOTE)
    else:
        pasted = await log_proof.check_pasted(client, log_proof.pasted_note(note), latest, key)
    return visit.page(
        "auditor_checkpoint.html",
        400 if error or (pasted and pasted.outcome == "malformed") else 200,
        latest=latest,
        key=key,
        signed=signed,
        consistent=None,
        old="",
        error=None,
        pasted=pasted,
        pasted_error=error,
        note=note[: log_proof.MAX_PASTED_NOTE],
    )


# -- exports --------------------------------------------------------------------------------------


async def export_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_auditor()
    f = read_filters(request.query_params)
    size = _number(request.query_params.get("size"), low=1)
    if f.errors:
        return visit.page(
            "auditor_export.html", 422, filters=f, links=None, error=visit.t("auditor.filter.fix")
        )
    return visit.page(
        "auditor_export.html",
        filters=f,
        links={fmt: f"/auditor/export/{fmt}?" + f.query(size=size) for fmt in ("jsonl", "csv")},
        size=size,
    )


async def export_download(request: Request) -> Response:
    visit = Visit(request)
    client = visit.auditor
    fmt = request.path_params["format"]
    f = read_filters(request.query_params)
    if f.errors or fmt not in ("jsonl", "csv"):
        return visit.page(
            "auditor_export.html", 422, filters=f, links=None, error=visit.t("auditor.filter.fix")
        )
    size = _number(request.query_params.get("size"), low=1)
    (read_in, _), body = await opened(client.export_stream(format=fmt, size=size, **f.sdk))
    headers = {"Content-Disposition": f'attachment; filename="regie-audit.{fmt}"'}
    if read_in is not None:
        headers["Regie-Checkpoint-Size"] = str(read_in)
    media = "application/jsonl" if fmt == "jsonl" else "text/csv; charset=utf-8"
    # An attachment with nosniff (the page headers): an export is never rendered as a page.
    return StreamingResponse(body, media_type=media, headers=headers)
