"""Screen 7, people: who may arrange things for me, for whom I do, and my children's vaults.

Built on the SDK's people calls (`people()`, `offer_mandate`, `accept_mandate`,
`revoke_mandate`, `give_up_mandate`, `new_child`, `delete_child_vault`, and
`offer_parent_mandate` under one's parent's mandate); a mandate is found by its id in my own
lists, so another resident's id is a 404 like one that does not exist. Acting for someone
(the API's `Regie-Act-For`) is in clients/app/acting.py: the people page links to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from clients.app import texts
from clients.app.views import (
    catalogue,
    category_label,
    confirmed_with_passkey,
    end_of_day,
    form_str,
)
from clients.app.visit import Visit
from clients.sdk import _errors as sdk_errors
from clients.sdk.resident import AsyncResidentClient, Catalogue, Mandate, MandateStep

# What a mandate may let someone do, in the order the form shows them.
ACTIONS = ("read", "write", "decide-requests")
ACTION_KEYS = {
    "read": "people.action.read",
    "write": "people.action.write",
    "decide-requests": "people.action.decide-requests",
}
MAX_YEARS = 5  # REGIE_MANDATE_MAX_VALIDITY_DAYS's default; the API has the last word
DEFAULT_DAYS = 365
START_DAYS = 365  # how far ahead a mandate may start (the API's max_start_delay)


# -- words for a mandate ------------------------------------------------------------------------


def other_name(visit: Visit, m: Mandate) -> str:
    """The other person; before an offer is accepted nobody is known yet (and a name the
    vault can no longer open, as of a deleted vault, is said to be unknown)."""
    if m.name:
        return m.name
    waiting = m.role == "principal" and m.status in ("offered", "lapsed")
    return visit.t("people.nobody_yet") if waiting else visit.t("people.unknown")


def status_words(visit: Visit, m: Mandate) -> str:
    if m.status == "offered":
        return visit.t("people.status.offered", time=texts.date_time(m.code_expires_at, visit.lang))
    if m.status == "active" and m.valid_from > datetime.now(UTC):
        return visit.t("people.status.starts", date=texts.date(m.valid_from, visit.lang))
    if m.status == "active":
        return visit.t("people.status.active")
    if m.status == "lapsed":
        return visit.t("people.status.lapsed")
    return visit.t("people.status.ended", reason=reason_words(visit, m, m.end_reason))


def reason_words(visit: Visit, m: Mandate, reason: str | None) -> str:
    name = other_name(visit, m)
    mine = m.role == "principal"
    if reason == "revoked":
        return (
            visit.t("people.reason.revoked.mine")
            if mine
            else visit.t("people.reason.revoked.theirs", name=name)
        )
    if reason == "given-up":
        return (
            visit.t("people.reason.given-up.theirs", name=name)
            if mine
            else visit.t("people.reason.given-up.mine")
        )
    if reason == "expired":
        return visit.t("people.reason.expired")
    if reason == "vault-deleted":
        return visit.t("people.reason.vault-deleted", name=name)
    return visit.t("people.reason.other")


def step_words(visit: Visit, m: Mandate, step: MandateStep) -> str:
    when = texts.date_time(step.at, visit.lang)
    name = other_name(visit, m)
    mine = m.role == "principal"
    if step.status == "offered" and m.kind == "parent" and not mine:  # to a second parent
        return visit.t("people.step.offered.parent", date=when, name=name)
    if step.status == "offered":
        if mine:
            return visit.t("people.step.offered.mine", date=when)
        return visit.t("people.step.offered.theirs", date=when, name=name)
    offered_first = bool(m.history) and m.history[0].status == "offered"
    if step.status == "active" and m.kind == "parent" and not offered_first:
        return visit.t("people.step.child", date=when, name=name)
    if step.status == "active":
        if mine:
            return visit.t("people.step.active.theirs", date=when, name=name)
        return visit.t("people.step.active.mine", date=when)
    if step.status == "lapsed":
        return visit.t("people.step.lapsed", date=when)
    if step.status == "ended":
        return visit.t("people.step.ended", date=when, reason=reason_words(visit, m, step.reason))
    return visit.t("history.other", date=when, status=step.status)


def actions_words(visit: Visit, m: Mandate) -> str:
    return ", ".join(visit.t(ACTION_KEYS[a]) for a in ACTIONS if a in m.actions)


def categories_words(visit: Visit, cat: Catalogue, m: Mandate) -> str:
    known = [c.code for c in cat.categories]
    if set(known) <= set(m.categories):
        return visit.t("people.categories.all")
    ordered = [c for c in known if c in m.categories] + [c for c in m.categories if c not in known]
    return ", ".join(category_label(cat, c, visit.lang) for c in ordered)


@dataclass(frozen=True)
class Shown:
    """A mandate with everything a page says about it, in the visitor's language."""

    m: Mandate
    name: str
    status: str
    categories: str
    actions: str
    period: str
    may_stop: bool
    history: list[str]
    heading: str


def shown(visit: Visit, cat: Catalogue, m: Mandate) -> Shown:
    period = visit.t(
        "people.period",
        start=texts.date(m.valid_from, visit.lang),
        end=texts.date(m.valid_until - timedelta(seconds=1), visit.lang),
    )
    return Shown(
        m=m,
        name=other_name(visit, m),
        status=status_words(visit, m),
        categories=categories_words(visit, cat, m),
        actions=actions_words(visit, m),
        period=period,
        may_stop=may_stop(m),
        history=[step_words(visit, m, s) for s in m.history],
        heading=detail_heading(visit, m),
    )


def may_stop(m: Mandate) -> bool:
    """What the app lets a resident stop: a mandate (or its offer) they gave, or one they
    hold. A parent's mandate over a child's vault is not stopped here (the API refuses the
    last parent's; a parent deletes the child's vault instead, `child_delete_page`)."""
    if m.kind == "parent":
        return False
    if m.role == "principal":
        return m.status in ("offered", "active")
    return m.status == "active"


def detail_heading(visit: Visit, m: Mandate) -> str:
    """What a mandate is called on its page and in the list of earlier ones."""
    name = other_name(visit, m)
    if m.kind == "parent":
        return visit.t("people.detail.child", name=name)
    over = m.status in ("lapsed", "ended")
    if m.role == "principal" and m.status == "offered":
        return visit.t("people.detail.offered")
    if m.role == "principal" and m.status == "lapsed":
        return visit.t("people.detail.lapsed")
    if m.role == "principal":
        return visit.t("people.earlier.mine" if over else "people.detail.mine", name=name)
    return visit.t("people.earlier.theirs" if over else "people.detail.theirs", name=name)


def stop_heading(visit: Visit, m: Mandate) -> str:
    if m.role == "principal" and m.status == "offered":
        return visit.t("people.stop.title.offer")
    if m.role == "principal":
        return visit.t("people.stop.title.mine", name=other_name(visit, m))
    return visit.t("people.stop.title.theirs", name=other_name(visit, m))


async def _mandate(visit: Visit, mandate_id: str) -> Mandate:
    people = await visit.client.people()
    for m in (*people.acting_for_me, *people.acting_for):
        if m.id == mandate_id:
            return m
    raise sdk_errors.NotFound("no such mandate for this resident")


# -- the people page ----------------------------------------------------------------------------


async def people_page(request: Request) -> Response:
    visit = Visit(request)
    people = await visit.client.people()
    cat = await catalogue(visit)
    current = ("offered", "active")
    for_me = [shown(visit, cat, m) for m in people.acting_for_me if m.status in current]
    held = [m for m in people.acting_for if m.kind != "parent"]
    i_act_for = [shown(visit, cat, m) for m in held if m.status in current]
    children = [shown(visit, cat, m) for m in people.acting_for if m.kind == "parent"]
    earlier = [
        shown(visit, cat, m) for m in (*people.acting_for_me, *held) if m.status not in current
    ]
    return visit.page(
        "people.html",
        for_me=for_me,
        i_act_for=i_act_for,
        children=children,
        earlier=sorted(earlier, key=lambda s: s.m.ended_at or s.m.created_at, reverse=True),
    )


async def mandate_page(request: Request) -> Response:
    visit = Visit(request)
    m = await _mandate(visit, str(request.path_params["mandate_id"]))
    s = shown(visit, await catalogue(visit), m)
    return visit.page(
        "mandate.html",
        s=s,
        heading=s.heading,
        parents=await _parents(visit, m),
        helpers=await _parents(visit, m, kind="mandate"),
        child_until=texts.date(m.valid_until - timedelta(seconds=1), visit.lang)
        if _is_my_child(m)
        else None,
    )


@dataclass(frozen=True)
class OtherParent:
    line: str  # "Pieter: loopt nu"
    stop: str  # the page that stops their access (or withdraws the offer)
    stop_label: str


async def _others(visit: Visit, m: Mandate) -> list[Mandate]:
    """On my parent's mandate for a child: the other mandates over the child's vault
    (another parent's, or anyone's a parent gave; running, or offered), as the child's vault
    lists them; empty for any other mandate."""
    if not _is_my_child(m):
        return []
    child = await visit.own_client.acting_for(m.id).people()
    return [p for p in child.acting_for_me if p.id != m.id and p.status in ("offered", "active")]


async def _parents(visit: Visit, m: Mandate, *, kind: str = "parent") -> list[OtherParent]:
    """The lines of the child's page: the other parents (`kind` "parent"), or everyone
    else who may act in the child's vault (any other kind), each with its stop page."""
    others = [p for p in await _others(visit, m) if (p.kind == "parent") == (kind == "parent")]
    return [
        OtherParent(
            line=visit.t(
                "people.parents.one", name=other_name(visit, p), status=status_words(visit, p)
            ),
            stop=f"/people/{m.id}/mandates/{p.id}/stop",
            stop_label=visit.t("people.parent.withdraw.open")
            if p.status == "offered"
            else visit.t("people.parent.stop.open", name=other_name(visit, p)),
        )
        for p in others
    ]


def _is_my_child(m: Mandate) -> bool:
    return m.kind == "parent" and m.role == "representative" and m.status == "active"


async def _my_child(visit: Visit, mandate_id: str) -> Mandate:
    """My parent's mandate for a child's vault, in force now; else NotFound (a kind 404)."""
    m = await _mandate(visit, mandate_id)
    if not _is_my_child(m):
        raise sdk_errors.NotFound("no child's vault under this mandate")
    return m


# -- offering a mandate ---------------------------------------------------------------------------


def _offer_form(
    visit: Visit,
    cat: Catalogue,
    status: int = 200,
    *,
    child: Mandate | None = None,
    **values: object,
) -> Response:
    """The offer form; for a child's vault (`child`: my parent's mandate) it posts there, says
    whose vault, and offers no last day after my own mandate's."""
    today = datetime.now(texts.LOCAL_TIME).date()
    chosen = values.pop("chosen", None)
    latest = today + timedelta(days=365 * MAX_YEARS)
    if child is not None:
        latest = min(
            latest, (child.valid_until - timedelta(seconds=1)).astimezone(texts.LOCAL_TIME).date()
        )
    return visit.page(
        "people_offer.html",
        status,
        action=f"/people/{child.id}/offer" if child else "/people/offer",
        child=other_name(visit, child) if child else None,
        back=f"/people/{child.id}" if child else "/people",
        categories=[(c.code, c.label.get(visit.lang)) for c in cat.categories],
        actions=[(a, visit.t(ACTION_KEYS[a])) for a in ACTIONS],
        chosen=chosen if isinstance(chosen, dict) else {"categories": [], "actions": ["read"]},
        until=values.pop("until", (today + timedelta(days=DEFAULT_DAYS)).isoformat()),
        start=values.pop("start", today.isoformat()),
        today=today.isoformat(),
        start_latest=(today + timedelta(days=START_DAYS)).isoformat(),
        label=values.pop("label", ""),
        first=(today + timedelta(days=1)).isoformat(),
        latest=latest.isoformat(),
        **values,
    )


def _start_of(day: str) -> datetime | None:
    """The first moment of `day` in Dutch time; None for today (the mandate starts now) or
    for what is not a date."""
    try:
        d = datetime.fromisoformat(day).date()
    except ValueError:
        return None
    if d <= datetime.now(texts.LOCAL_TIME).date():
        return None
    return datetime.combine(d, time(0), tzinfo=texts.LOCAL_TIME).astimezone(UTC)


def _end_of_today() -> datetime:
    today = datetime.now(texts.LOCAL_TIME).date()
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=texts.LOCAL_TIME)


async def offer_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_signed_in()
    return _offer_form(visit, await catalogue(visit))


async def offer(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    return await _offer(visit, form, visit.client, None)


async def child_offer_page(request: Request) -> Response:
    visit = Visit(request)
    m = await _my_child(visit, str(request.path_params["mandate_id"]))
    return _offer_form(visit, await catalogue(visit), child=m)


async def child_offer(request: Request) -> Response:
    """A mandate over the child's vault (a grandparent, a babysitter), given under my
    parent's mandate: the API caps it at my own mandate's end (422 `valid_until_max`)."""
    visit = Visit(request)
    form = await visit.form()
    m = await _my_child(visit, str(request.path_params["mandate_id"]))
    return await _offer(visit, form, visit.own_client.acting_for(m.id), m)


async def _offer(
    visit: Visit, form: FormData, client: AsyncResidentClient, child: Mandate | None
) -> Response:
    cat = await catalogue(visit)
    known = {c.code for c in cat.categories}
    categories = [c for c in form.getlist("categories") if isinstance(c, str) and c in known]
    actions = [a for a in form.getlist("actions") if isinstance(a, str) and a in ACTIONS]
    label = form_str(form, "label", 200)
    day = form_str(form, "until", 10)
    until = end_of_day(day) if day else None
    start_day = form_str(form, "start", 10)
    start = _start_of(start_day) if start_day else None
    today = datetime.now(texts.LOCAL_TIME).date()
    kept = {
        "chosen": {"categories": categories, "actions": actions},
        "until": day,
        "start": start_day or today.isoformat(),
        "label": label,
    }
    error = None
    if not categories:
        error = "people.offer.no_categories"
    elif not actions:
        error = "people.offer.no_actions"
    elif start_day and not _is_day_from(start_day, today, START_DAYS):
        error = "people.offer.bad_start"
    elif until is None or until <= _end_of_today() or (start is not None and until <= start):
        error = "people.offer.bad_date"
    elif not label:
        error = "people.offer.no_label"
    bad_date = "people.offer.bad_date.child" if child else "people.offer.bad_date"
    if error == "people.offer.bad_date":
        error = bad_date
    if error is not None or until is None:
        message = visit.t(error or bad_date, **_child_words(visit, child))
        return _offer_form(visit, cat, 422, child=child, error=message, **kept)
    try:
        made = await client.offer_mandate(
            categories=categories,
            actions=actions,
            valid_until=until,
            valid_from=start,
            label=label,
        )
    except sdk_errors.InvalidRequest:
        # The API's limits (how far ahead, how long; for a child's vault no later than my own
        # mandate): the date is what a resident can change.
        message = visit.t(bad_date, **_child_words(visit, child))
        return _offer_form(visit, cat, 422, child=child, error=message, **kept)
    return visit.page(
        "people_code.html",
        s=shown(visit, cat, made.mandate),
        code=made.code,
        expires=texts.date_time(made.code_expires_at, visit.lang),
        minutes=max(1, round((made.code_expires_at - datetime.now(UTC)).total_seconds() / 60)),
        back=f"/people/{child.id}" if child else None,
        back_label=visit.t("people.back.child", name=other_name(visit, child)) if child else None,
    )


def _child_words(visit: Visit, child: Mandate | None) -> dict[str, str]:
    if child is None:
        return {}
    last = child.valid_until - timedelta(seconds=1)
    return {"name": other_name(visit, child), "date": texts.date(last, visit.lang)}


def _is_day_from(day: str, today: date, days: int) -> bool:
    """`day` is a date from today up to `days` ahead."""
    try:
        d = datetime.fromisoformat(day).date()
    except ValueError:
        return False
    return today <= d <= today + timedelta(days=days)


# -- accepting one with its code ------------------------------------------------------------------


async def accept_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_signed_in()
    return visit.page("people_accept.html", code="")


async def accept(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    client = visit.client
    code = form_str(form, "code", 40)
    if not code:
        return visit.page("people_accept.html", 422, code="", error=visit.t("people.accept.empty"))
    try:
        m = await client.accept_mandate(code)
    except sdk_errors.AuthError as e:
        if "not signed in" in e.detail:  # the session ended: the sign-in page, kindly
            raise
        return visit.page(
            "people_accept.html", 401, code=code, error=visit.t("people.accept.invalid")
        )
    except sdk_errors.InvalidRequest as e:
        key = "people.accept.own" if "yourself" in e.detail else "people.accept.invalid"
        return visit.page("people_accept.html", 422, code=code, error=visit.t(key))
    s = shown(visit, await catalogue(visit), m)
    return visit.page(
        "mandate.html",
        s=s,
        heading=s.heading,
        notice=visit.t(
            "people.accept.done.parent" if m.kind == "parent" else "people.accept.done",
            name=s.name,
        ),
    )


# -- stopping -------------------------------------------------------------------------------------


def _already(visit: Visit) -> Response:
    return visit.page(
        "done.html",
        message=visit.t("people.stop.already"),
        next_path="/people",
        next_label=visit.t("people.back"),
    )


async def stop_page(request: Request) -> Response:
    visit = Visit(request)
    m = await _mandate(visit, str(request.path_params["mandate_id"]))
    if not may_stop(m):
        return _already(visit)
    s = shown(visit, await catalogue(visit), m)
    return visit.page("people_stop.html", s=s, heading=stop_heading(visit, m))


async def stop(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    client = visit.client
    m = await _mandate(visit, str(request.path_params["mandate_id"]))
    if not may_stop(m):
        return _already(visit)
    name = other_name(visit, m)
    if m.role == "principal":
        await client.revoke_mandate(m.id)
        key = "people.stop.done.offer" if m.status == "offered" else "people.stop.done.mine"
    else:
        await client.give_up_mandate(m.id)
        key = "people.stop.done.theirs"
    return visit.page(
        "done.html",
        message=visit.t(key, name=name),
        next_path="/people",
        next_label=visit.t("people.back"),
    )


# -- a child's vault ------------------------------------------------------------------------------


async def child_page(request: Request) -> Response:
    visit = Visit(request)
    visit.require_signed_in()
    return visit.page("people_child.html", name="")


async def child(request: Request) -> Response:
    visit = Visit(request)
    form = await visit.form()
    client = visit.client
    name = form_str(form, "display_name", 64)
    if not name:
        return visit.page("people_child.html", 422, name="", error=visit.t("people.child.no_name"))
    try:
        await client.new_child(name)
    except sdk_errors.InvalidRequest:
        return visit.page("people_child.html", 422, name=name, error=visit.t("error.invalid"))
    return visit.page(
        "done.html",
        message=visit.t("people.child.done", name=name),
        next_path="/people",
        next_label=visit.t("people.back"),
    )


# -- a second parent ------------------------------------------------------------------------------


async def parent_page(request: Request) -> Response:
    visit = Visit(request)
    m = await _my_child(visit, str(request.path_params["mandate_id"]))
    return _parent_form(visit, m)


def _parent_form(visit: Visit, m: Mandate, status: int = 200, **values: object) -> Response:
    name = other_name(visit, m)
    until = texts.date(m.valid_until - timedelta(seconds=1), visit.lang)
    return visit.page("people_parent.html", status, m=m, name=name, until=until, **values)


async def parent_offer(request: Request) -> Response:
    visit = Visit(request)
    await visit.form()
    m = await _my_child(visit, str(request.path_params["mandate_id"]))
    made = await visit.own_client.acting_for(m.id).offer_parent_mandate()
    name = other_name(visit, m)
    return visit.page(
        "people_code.html",
        s=shown(visit, await catalogue(visit), made.mandate),
        code=made.code,
        expires=texts.date_time(made.code_expires_at, visit.lang),
        minutes=max(1, round((made.code_expires_at - datetime.now(UTC)).total_seconds() / 60)),
        how=[
            visit.t("people.parent.code.how.1", name=name),
            visit.t("people.code.how.2"),
            visit.t("people.parent.code.how.3", name=name),
        ],
        back=f"/people/{m.id}",
        back_label=visit.t("people.back.child", name=name),
    )


# -- stopping another parent's access ----------------------------------------------------------


async def _other_parent(visit: Visit, request: Request) -> tuple[Mandate, Mandate]:
    """(my parent's mandate, the other parent's) from the path; NotFound (a kind 404) for a
    mandate that is not another parent's of this child, running or offered."""
    m = await _my_child(visit, str(request.path_params["mandate_id"]))
    wanted = str(request.path_params["other_id"])
    for p in await _others(visit, m):
        if str(p.id) == wanted:
            return m, p
    raise sdk_errors.NotFound("no other parent's mandate for this child")


async def parent_stop_page(request: Request) -> Response:
    visit = Visit(request)
    m, p = await _other_parent(visit, request)
    return visit.page(
        "people_parent_stop.html",
        m=m,
        child=other_name(visit, m),
        other=other_name(visit, p),
        offered=p.status == "offered",
    )


async def parent_stop(request: Request) -> Response:
    """Ends the other parent's mandate for the child's vault under my parent's mandate (the
    API checks again; it never ends the last parent's, and mine stays)."""
    visit = Visit(request)
    await visit.form()
    m, p = await _other_parent(visit, request)
    await visit.own_client.acting_for(m.id).revoke_mandate(p.id)
    if p.status == "offered":
        message = visit.t("people.stop.done.offer")
    else:
        message = visit.t(
            "people.parent.stop.done", name=other_name(visit, p), child=other_name(visit, m)
        )
    return visit.page(
        "done.html",
        message=message,
        next_path=f"/people/{m.id}",
        next_label=visit.t("people.back.child", name=other_name(visit, m)),
    )


# -- deleting a child's vault ---------------------------------------------------------------------


async def child_delete_page(request: Request) -> Response:
    visit = Visit(request)
    m = await _my_child(visit, str(request.path_params["mandate_id"]))
    return visit.page("people_child_delete.html", m=m, name=other_name(visit, m))


async def child_delete(request: Request) -> Response:
    """After a passkey confirmation of this session (as for one's own vault), the API
    shreds the child's vault (`delete_child_vault`: it checks again that this is a parent's
    mandate the resident holds and may use)."""
    visit = Visit(request)
    confirmed = await confirmed_with_passkey(visit)  # reads the form: CSRF first
    m = await _my_child(visit, str(request.path_params["mandate_id"]))
    name = other_name(visit, m)
    if not confirmed:
        return visit.page(
            "people_child_delete.html", 401, m=m, name=name, error=visit.t("confirm.failed")
        )
    await visit.own_client.delete_child_vault(m.id)
    return visit.page(
        "done.html",
        message=visit.t("people.child.deleted", name=name),
        next_path="/people",
        next_label=visit.t("people.back"),
    )
