"""Acting for someone: the pages under `/people/{mandate_id}/...`.

A representative (or a parent, in a child's vault) sees and does what the mandate covers,
on the same views and templates as in their own vault: `under_mandate(view)` finds the
mandate among those the signed-in resident holds (another resident's id, a made-up one, or
one the resident gave is a 404, like a page that does not exist), says kindly when it has
ended, and otherwise sets the acting context (`visit.Acting`). The view then calls the SDK
through `Visit.client`, which carries `Regie-Act-For`, and links under `Visit.base`.

The app shows only the actions the mandate covers, but the API decides: a refusal
(`AccessDenied`, with a reason such as `category-not-in-scope` or `mandate-ended`) is a
kind page (`refusal_page`), never an error. The app keeps no session state: the mandate
id in the path is the whole context, checked again on every request.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from clients.app.people import other_name, shown
from clients.app.views import catalogue
from clients.app.visit import Acting, Visit
from clients.sdk import _errors as sdk_errors
from clients.sdk.resident import Mandate

View = Callable[[Request], Awaitable[Response]]

# A mandate's refusal reasons (docs/people.md) and the sentence each one gets.
OUT_OF_SCOPE = ("category-not-in-scope", "action-not-in-scope", "empty-scope")
REFUSALS = {
    **dict.fromkeys(OUT_OF_SCOPE, "act.refused.scope"),
    "mandate-ended": "act.refused.ended",
    "mandate-expired": "act.refused.expired",
    "not-yet-valid": "act.refused.not_yet",
    "not-for-representatives": "act.refused.own_only",
    "no-mandate": "act.refused.no_mandate",
    "wrong-representative": "act.refused.no_mandate",
    "not-accepted": "act.refused.no_mandate",
}


async def _held(visit: Visit, mandate_id: str) -> Mandate:
    """The mandate with this id that the signed-in resident holds (never one they gave)."""
    people = await visit.own_client.people()
    for m in people.acting_for:
        if m.id == mandate_id:
            return m
    raise sdk_errors.NotFound("no such mandate held by this resident")


def under_mandate(view: View) -> View:
    """`view` for the principal of the mandate in the path, within what it covers."""

    @functools.wraps(view)
    async def acting_view(request: Request) -> Response:
        visit = Visit(request)
        m = await _held(visit, str(request.path_params["mandate_id"]))
        name = other_name(visit, m)
        if m.status != "active":
            reason = "act.refused.ended" if m.status == "ended" else "act.refused.no_mandate"
            return ended_page(visit, reason, name)
        request.state.acting = Acting(mandate=m, name=name)
        return await view(request)

    return acting_view


def ended_page(visit: Visit, key: str, name: str, status: int = 403) -> Response:
    return visit.page(
        "error.html",
        status,
        title=visit.t("act.refused.title"),
        message=visit.t(key, name=name),
        next_path="/people",
        next_label=visit.t("people.back"),
    )


def refusal_page(visit: Visit, exc: sdk_errors.AccessDenied) -> Response:
    """The API refused a step: say why in words. Under a mandate, in its terms; in one's
    own vault (where a mandate's reasons do not come), the general sentence."""
    acting = visit.acting
    if acting is None:
        return visit.page(
            "error.html", 403, title=visit.t("act.refused.title"), message=visit.t("error.denied")
        )
    key = REFUSALS.get(exc.reason or "", "act.refused.other")
    if key in ("act.refused.ended", "act.refused.expired", "act.refused.no_mandate"):
        # Nothing more can be done under this mandate: no banner, back to the people page.
        visit.acting = None
        return ended_page(visit, key, acting.name)
    return visit.page(
        "error.html",
        403,
        title=visit.t("act.refused.title"),
        message=visit.t(key, name=acting.name),
        next_path=f"{acting.prefix}/home",
        next_label=visit.t("act.home.back", name=acting.name),
    )


# -- the principal's overview ---------------------------------------------------------------------


async def home(request: Request) -> Response:
    """What the representative can do for the principal: waiting requests (with
    `decide-requests`), and the ways to the data, who sees what, and the log."""
    visit = Visit(request)
    acting = visit.acting
    if acting is None:  # only reached through under_mandate
        raise sdk_errors.NotFound("not under a mandate")
    waiting = await visit.client.requests() if acting.may("decide-requests") else []
    s = shown(visit, await catalogue(visit), acting.mandate)
    return visit.page("act_home.html", waiting=waiting, m=acting.mandate, s=s)
