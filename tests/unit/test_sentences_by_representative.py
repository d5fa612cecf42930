"""The log's sentences for what a representative did under a mandate: the step, then who
did it ("…, gedaan door Pieter voor u."), in Dutch and English; a gone mandate says
"iemand"; a mandate's own changes and other actors keep their sentences."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vault.audit.sentences import EventFacts, sentences

AT = datetime(2026, 3, 3, 13, 2, tzinfo=UTC)  # 14:02 in Amsterdam
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def by(name: str, outcome: str = "done", **kw: object) -> EventFacts:
    values: dict[str, object] = {
        "name": name,
        "outcome": outcome,
        "reason": None,
        "at": AT,
        "service_name": None,
        "actor": "representative",
        "representative_name": "Pieter Bewind",
        **kw,
    }
    return EventFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "nl", "en"),
    [
        (
            by("record.created", datatype="debts.overview"),
            "Uw schuldenoverzicht is in uw kluis gezet, op 3 maart om 14:02, gedaan door Pieter "
            "Bewind voor u.",
            "Your debt overview was put in your vault, on 3 March at 14:02, done by Pieter Bewind "
            "for you.",
        ),
        (
            by("record.read", "permit", datatype="health.medication", action="read"),
            "Uw medicatieoverzicht is bekeken, op 3 maart om 14:02, gedaan door Pieter Bewind "
            "voor u.",
            "Your medication overview was viewed, on 3 March at 14:02, done by Pieter Bewind for "
            "you.",
        ),
        (
            by("record.changed", datatype="debts.payment_plan"),
            "Uw betalingsregeling is veranderd, op 3 maart om 14:02, gedaan door Pieter Bewind "
            "voor u. De vorige versie blijft bewaard.",
            "Your payment plan was changed, on 3 March at 14:02, done by Pieter Bewind for you. "
            "The previous version is kept.",
        ),
        (
            by("record.deleted", datatype="debts.overview"),
            "Uw schuldenoverzicht is uit uw kluis gehaald, op 3 maart om 14:02, gedaan door "
            "Pieter Bewind voor u.",
            "Your debt overview was removed from your vault, on 3 March at 14:02, done by Pieter "
            "Bewind for you.",
        ),
        (
            by("record.list", "permit", datatype="debts"),
            "De lijst van uw gegevens is bekeken, op 3 maart om 14:02, gedaan door Pieter Bewind "
            "voor u.",
            "The list of your data was viewed, on 3 March at 14:02, done by Pieter Bewind for you.",
        ),
        (
            by("grant.approved", service_name="Gemeente Utrecht", purpose_text="Schuldhulp"),
            "Gemeente Utrecht kreeg toegang voor schuldhulp, op 3 maart om 14:02, gedaan door "
            "Pieter Bewind voor u.",
            "Gemeente Utrecht was given access for schuldhulp, on 3 March at 14:02, done by "
            "Pieter Bewind for you.",
        ),
        (
            by("grant.denied", service_name="Gemeente Utrecht"),
            "Er is nee gezegd tegen de vraag van Gemeente Utrecht, op 3 maart om 14:02, gedaan "
            "door Pieter Bewind voor u. Gemeente Utrecht kreeg niets.",
            "The question from Gemeente Utrecht was answered with no, on 3 March at 14:02, done "
            "by Pieter Bewind for you. Gemeente Utrecht got nothing.",
        ),
        (
            by("grant.ended", reason="revoked", service_name="Gemeente Utrecht"),
            "De toegang van Gemeente Utrecht is gestopt, op 3 maart om 14:02, gedaan door Pieter "
            "Bewind voor u.",
            "Access for Gemeente Utrecht was stopped, on 3 March at 14:02, done by Pieter Bewind "
            "for you.",
        ),
        (
            by("log.read", "permit"),
            "Uw logboek is bekeken, op 3 maart om 14:02, gedaan door Pieter Bewind voor u.",
            "Your log was viewed, on 3 March at 14:02, done by Pieter Bewind for you.",
        ),
        (
            by("log.proof", "permit"),
            "Er is gecontroleerd dat iets echt in uw logboek staat, op 3 maart om 14:02, gedaan "
            "door Pieter Bewind voor u.",
            "It was checked that an entry is really in your log, on 3 March at 14:02, done by "
            "Pieter Bewind for you.",
        ),
        (
            by("procedure.closed", service_name="Gemeente Utrecht"),
            "De behandeling of zaak bij Gemeente Utrecht is afgesloten, op 3 maart om 14:02, "
            "gedaan door Pieter Bewind voor u. De toegang die daarbij hoorde, is gestopt.",
            "The treatment or case with Gemeente Utrecht was closed, on 3 March at 14:02, done by "
            "Pieter Bewind for you. The access that went with it has stopped.",
        ),
        (
            by("grant.ended", reason="procedure-closed", service_name="Gemeente Utrecht"),
            "De toegang van Gemeente Utrecht is gestopt, want de behandeling of zaak is klaar, op "
            "3 maart om 14:02, gedaan door Pieter Bewind voor u.",
            "Access for Gemeente Utrecht stopped because the treatment or case is finished, on 3 "
            "March at 14:02, done by Pieter Bewind for you.",
        ),
        (
            by("grant.lapsed", reason="procedure-closed", service_name="Gemeente Utrecht"),
            "De vraag van Gemeente Utrecht is vervallen, want de behandeling of zaak is klaar, op "
            "3 maart om 14:02, gedaan door Pieter Bewind voor u.",
            "The question from Gemeente Utrecht was dropped because the treatment or case is "
            "finished, on 3 March at 14:02, done by Pieter Bewind for you.",
        ),
        (
            by("grant.list", "permit"),
            "Uw vragen om toegang en wie wat mag zien, zijn bekeken, op 3 maart om 14:02, gedaan "
            "door Pieter Bewind voor u.",
            "Your requests for access and who may see what were viewed, on 3 March at 14:02, "
            "done by Pieter Bewind for you.",
        ),
        (
            by("something.new"),
            "Er gebeurde iets in uw kluis (something.new), op 3 maart om 14:02, gedaan door "
            "Pieter Bewind voor u.",
            "Something happened in your vault (something.new), on 3 March at 14:02, done by "
            "Pieter Bewind for you.",
        ),
    ],
)
def test_a_representatives_step_says_who_did_it(facts: EventFacts, nl: str, en: str) -> None:
    assert sentences(facts, NOW) == (nl, en)


def test_a_gone_mandate_or_a_blank_name_says_someone() -> None:
    for name in (None, "", "   "):
        nl, en = sentences(by("log.read", "permit", representative_name=name), NOW)
        assert nl.endswith(", gedaan door iemand voor u.")
        assert en.endswith(", done by someone for you.")


def test_a_name_with_odd_spacing_reads_as_one_line() -> None:
    nl, _ = sentences(by("log.read", "permit", representative_name=" Pieter\n  Bewind "), NOW)
    assert nl.endswith("gedaan door Pieter Bewind voor u.")


def test_the_mandates_own_changes_and_other_actors_keep_their_sentences() -> None:
    active = sentences(by("mandate.active"), NOW)[0]
    assert active.startswith("Iemand die u dat vroeg, mag nu dingen voor u regelen")
    own = by("record.created", datatype="debts.overview", actor="resident")
    assert sentences(own, NOW)[0].startswith("U heeft uw schuldenoverzicht in uw kluis gezet")
    service = by(
        "record.read",
        "permit",
        datatype="debts.overview",
        actor="service",
        service_name="Gemeente Utrecht",
    )
    assert "gedaan door" not in sentences(service, NOW)[0]


@pytest.mark.parametrize(
    ("reason", "datatype", "nl_why", "en_why"),
    [
        (
            "category-not-in-scope",
            "education",
            "met uw gegevens over onderwijs, maar dat kon niet: dat valt buiten wat u toestond",
            "on your education data, but could not: that is outside what you allowed",
        ),
        (
            "action-not-in-scope",
            None,
            "met uw gegevens, maar dat kon niet: dat valt buiten wat u toestond",
            "on your data, but could not: that is outside what you allowed",
        ),
        (
            "mandate-ended",
            None,
            "met uw gegevens, maar dat kon niet: de machtiging was gestopt",
            "on your data, but could not: the mandate had ended",
        ),
        (
            "mandate-expired",
            "debts",
            "met uw gegevens over schulden, maar dat kon niet: de einddatum van de machtiging "
            "was bereikt",
            "on your debts data, but could not: the end date of the mandate had been reached",
        ),
        (
            "not-yet-valid",
            None,
            "met uw gegevens, maar dat kon niet: de machtiging begint later",
            "on your data, but could not: the mandate starts later",
        ),
        (
            "something-new",
            None,
            "met uw gegevens, maar dat kon niet: dat mocht niet",
            "on your data, but could not: it was not allowed",
        ),
    ],
)
def test_a_refused_attempt_says_why_without_blame(
    reason: str, datatype: str | None, nl_why: str, en_why: str
) -> None:
    nl, en = sentences(by("mandate.refused", "deny", reason=reason, datatype=datatype), NOW)
    assert nl == (
        f"Pieter Bewind wilde iets voor u regelen {nl_why}, op 3 maart om 14:02. Er is niets "
        "veranderd."
    )
    assert en == (
        f"Pieter Bewind wanted to act for you {en_why}, on 3 March at 14:02. Nothing was changed."
    )


def test_a_parent_giving_or_ending_a_mandate_for_the_child_says_who() -> None:
    assert sentences(by("mandate.offered"), NOW) == (
        "Er is iemand gevraagd om dingen voor u te regelen, op 3 maart om 14:02, gedaan door "
        "Pieter Bewind voor u.",
        "Someone was asked to act for you, on 3 March at 14:02, done by Pieter Bewind for you.",
    )
    nl, en = sentences(by("mandate.ended", reason="revoked"), NOW)
    assert nl.startswith("Er is gestopt dat iemand dingen voor u regelt, op 3 maart")
    assert en.endswith("done by Pieter Bewind for you.")
    # Giving up is the representative's own step about the mandate: its usual sentence.
    assert sentences(by("mandate.ended", reason="given-up"), NOW)[0].startswith(
        "Iemand is gestopt met dingen voor u regelen"
    )


def test_too_many_refused_attempts_say_who_and_that_it_was_stopped() -> None:
    throttled = by("mandate.throttled", "deny", reason="too-many-refusals")
    assert sentences(throttled, NOW) == (
        "Pieter Bewind probeerde vaak iets voor u te doen zonder toestemming, op 3 maart om "
        "14:02. We hebben dat gestopt. Er is niets veranderd.",
        "Pieter Bewind often tried to do something for you without permission, on 3 March at "
        "14:02. We have stopped that. Nothing was changed.",
    )
    gone = by("mandate.throttled", "deny", representative_name=None)
    assert sentences(gone, NOW)[0].startswith("Iemand probeerde vaak iets voor u te doen")


def test_a_refused_deletion_of_a_childs_vault_says_so() -> None:
    refused = by("mandate.refused", "deny", reason="not-a-parent", action="delete-vault")
    assert sentences(refused, NOW) == (
        "Pieter Bewind wilde uw kluis weggooien, maar dat kon niet: dat mag alleen een ouder, op "
        "3 maart om 14:02. Er is niets veranderd.",
        "Pieter Bewind wanted to delete your vault, but could not: only a parent may do that, "
        "on 3 March at 14:02. Nothing was changed.",
    )
