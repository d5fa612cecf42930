"""The people screens say every state of a mandate in words, for both sides, in Dutch and
English: every status, end reason, history step and kind has its sentence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from clients.app import people, texts
from clients.app.visit import Visit
from clients.sdk.resident import Catalogue, Mandate, MandateStep

NOW = datetime.now(UTC)
CATALOGUE = Catalogue.of(
    {
        "categories": [
            {"code": "income", "label": {"nl": "Inkomen", "en": "Income"}, "types": []},
            {"code": "debts", "label": {"nl": "Schulden", "en": "Debts"}, "types": []},
        ]
    }
)


class Words:
    """What the words need of a visit: its language and the catalogue's texts."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def t(self, key: str, **values: object) -> str:
        return texts.text(key, self.lang, **values)


def mandate(**changes: Any) -> Mandate:
    values: dict[str, Any] = {
        "id": "6f1c8a0e-0000-4000-8000-000000000001",
        "kind": "mandate",
        "role": "principal",
        "name": "Bram",
        "status": "active",
        "end_reason": None,
        "categories": ("debts",),
        "actions": ("read",),
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=30),
        "label": "Bewind",
        "code_expires_at": None,
        "created_at": NOW - timedelta(days=1),
        "accepted_at": None,
        "ended_at": None,
        "history": (),
    }
    values.update(changes)
    return Mandate(**values)


STEPS = tuple(
    MandateStep(NOW, status, "system", reason)
    for status, reason in (
        ("offered", None),
        ("active", None),
        ("lapsed", "code-expired"),
        ("ended", "revoked"),
        ("ended", "given-up"),
        ("ended", "expired"),
        ("ended", "vault-deleted"),
        ("ended", "something-new"),
    )
)


@pytest.mark.parametrize("lang", texts.LANGUAGES)
@pytest.mark.parametrize("role", ["principal", "representative"])
@pytest.mark.parametrize("kind", ["mandate", "parent"])
@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("offered", None),
        ("active", None),
        ("lapsed", None),
        ("ended", "revoked"),
        ("ended", "given-up"),
        ("ended", "expired"),
        ("ended", "vault-deleted"),
    ],
)
def test_every_state_has_words(
    lang: str, role: str, kind: str, status: str, reason: str | None
) -> None:
    visit = cast(Visit, Words(lang))
    m = mandate(
        role=role,
        kind=kind,
        status=status,
        end_reason=reason,
        code_expires_at=NOW + timedelta(minutes=15) if status == "offered" else None,
        history=STEPS,
    )
    s = people.shown(visit, CATALOGUE, m)
    assert s.status
    assert s.heading
    assert people.stop_heading(visit, m)
    assert len(s.history) == len(STEPS)
    assert all(line and "{" not in line for line in s.history)


def test_scope_in_words() -> None:
    nl, en = cast(Visit, Words("nl")), cast(Visit, Words("en"))
    m = mandate(categories=("debts", "income"), actions=("decide-requests", "read", "write"))
    assert people.categories_words(nl, CATALOGUE, m) == "Alles in de kluis"
    assert people.categories_words(nl, CATALOGUE, mandate()) == "Schulden"
    assert people.actions_words(nl, m) == "lezen, aanvullen of wijzigen, beslissen over verzoeken"
    assert people.actions_words(en, m) == "read, add or change, decide on requests"
    later = mandate(valid_from=NOW + timedelta(days=3))
    assert people.status_words(nl, later).startswith("Gaat in op ")
    waiting = mandate(name="", status="offered")
    assert people.shown(nl, CATALOGUE, waiting).name == "Nog niemand"
    gone = mandate(name="", role="representative", status="ended", end_reason="vault-deleted")
    assert people.shown(nl, CATALOGUE, gone).name == "Naam onbekend"


def test_what_can_be_stopped() -> None:
    assert people.may_stop(mandate(status="offered"))
    assert people.may_stop(mandate(status="active"))
    assert not people.may_stop(mandate(status="ended", end_reason="revoked"))
    assert not people.may_stop(mandate(status="lapsed"))
    assert people.may_stop(mandate(role="representative"))
    assert not people.may_stop(mandate(role="representative", status="offered"))
    # A parent's mandate over a child's vault: nobody could open that vault again.
    assert not people.may_stop(mandate(role="representative", kind="parent"))


def test_every_refusal_of_a_mandate_has_its_sentence() -> None:
    """Each reason the mandate check can give (and the closed routes' one) is said in words,
    in both languages, naming the principal."""
    from typing import get_args

    from clients.app import acting
    from vault.representation.policy import MayNotReason

    for reason in (*get_args(MayNotReason), "not-for-representatives"):
        key = acting.REFUSALS[reason]
        for lang in texts.LANGUAGES:
            assert "Marieke" in texts.text(key, lang, name="Marieke"), (reason, lang)
    assert set(acting.REFUSALS) == {*get_args(MayNotReason), "not-for-representatives"}


def test_a_second_parents_history_reads_as_theirs() -> None:
    nl = cast(Visit, Words("nl"))
    made = mandate(
        kind="parent",
        role="representative",
        name="Sam",
        history=(MandateStep(NOW, "active", "representative", None),),
    )
    [line] = people.shown(nl, CATALOGUE, made).history
    assert line.endswith(": u maakte de kluis van Sam.")
    given = mandate(
        kind="parent",
        role="representative",
        name="Sam",
        history=(
            MandateStep(NOW, "offered", "representative", None),
            MandateStep(NOW, "active", "representative", None),
        ),
    )
    offered, accepted = people.shown(nl, CATALOGUE, given).history
    assert offered.endswith(": een ouder van Sam gaf u toegang, met een code.")
    assert accepted.endswith(": u vulde de code in. De machtiging ging lopen.")
