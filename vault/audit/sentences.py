"""Access events as sentences a resident reads: Dutch (B1) first, English second.

`sentences(facts, now)` turns one event into ("..." in Dutch, "..." in English), e.g.
"Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken voor uw behandeling, op
3 maart om 14:02." Every event name the vault writes has its sentence (`record.read`,
`record.list`, `record.write`, `grant.requested|approved|denied|lapsed|ended`,
`token.revoked`, `vault.exported`, `mandate.offered|active|lapsed|ended|refused|throttled`,
and a representative's `grant.list|read`, `log.read` and `log.proof`), refused attempts say
why without blaming anyone, and a name this module does not know yet still gets a plain
sentence rather than nothing. What a representative did under a mandate (actor
`representative`) ends with who did it: "…, gedaan door Pieter voor u." / "…, done by
Pieter for you." (`_BY`).

The purpose is the grant's own text when the grant still exists (the resident may read it;
the caller decrypts it), else a neutral phrase; datatypes read as the catalogue's labels;
times are in Dutch time (Europe/Amsterdam), with the year only when it is not this year's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from vault.records.catalogue import CATEGORIES, TYPES

LOCAL_TIME = ZoneInfo("Europe/Amsterdam")
_NL, _EN = 0, 1

MONTHS = (
    (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
)


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What a sentence needs of one event, with the names the caller looked up."""

    name: str
    outcome: str  # permit | deny | done
    reason: str | None
    at: datetime
    service_name: str | None  # None: no service, or one that is gone
    datatype: str | None = None
    action: str | None = None
    purpose_text: str | None = None  # the grant's purpose, when the grant still exists
    grant_end_reason: str | None = None  # why the grant ended, when it did
    actor: str | None = None  # resident | representative | service | ... (None: not known)
    # For actor `representative`: their name as the mandate holds it for the resident (the
    # log leaf holds only the mandate id); None when the mandate is gone.
    representative_name: str | None = None


# Templates: (Dutch, English). {service} is the service's name, {what} the data ("uw
# medicatieoverzicht"), {purpose} " voor ..." or a neutral phrase, {why} a refusal's cause,
# {when} "op 3 maart om 14:02".
_T: dict[str, tuple[str, str]] = {
    "record.read.permit": (
        "{service} heeft {what} bekeken{purpose}, {when}.",
        "{service} viewed {what}{purpose}, {when}.",
    ),
    "record.read.deny": (
        "{service} wilde {what} bekijken, maar {why}, {when}.",
        "{service} wanted to view {what}, but {why}, {when}.",
    ),
    "record.read.missing": (
        "{service} wilde iets bekijken dat niet in uw kluis staat, {when}. {service} kreeg niets.",
        "{service} wanted to view something that is not in your vault, {when}. {service} got "
        "nothing.",
    ),
    "record.list.permit": (
        "{service} heeft gekeken welke gegevens in uw kluis staan{purpose}, {when}.",
        "{service} looked at which data is in your vault{purpose}, {when}.",
    ),
    "record.list.deny": (
        "{service} wilde kijken welke gegevens in uw kluis staan, maar {why}, {when}.",
        "{service} wanted to look at which data is in your vault, but {why}, {when}.",
    ),
    "record.write.permit": (
        "{service} heeft {what} in uw kluis gezet{purpose}, {when}.",
        "{service} put {what} in your vault{purpose}, {when}.",
    ),
    "record.write.deny": (
        "{service} wilde {what} in uw kluis zetten, maar {why}, {when}. Er is niets bewaard.",
        "{service} wanted to put {what} in your vault, but {why}, {when}. Nothing was kept.",
    ),
    # The resident's own changes (vault/records/service.py).
    "record.created": (
        "U heeft {what} in uw kluis gezet, {when}.",
        "You put {what} in your vault, {when}.",
    ),
    "record.changed": (
        "U heeft {what} veranderd, {when}. De vorige versie blijft bewaard.",
        "You changed {what}, {when}. The previous version is kept.",
    ),
    "record.deleted": (
        "U heeft {what} uit uw kluis gehaald, {when}.",
        "You removed {what} from your vault, {when}.",
    ),
    # The resident downloaded the export zip (vault/records/export.py).
    "vault.exported": (
        "U heeft een kopie van alles in uw kluis gedownload, {when}.",
        "You downloaded a copy of everything in your vault, {when}.",
    ),
    "grant.requested": (
        "{service} vroeg om toegang tot uw gegevens{purpose}, {when}.",
        "{service} asked for access to your data{purpose}, {when}.",
    ),
    "grant.approved": (
        "U gaf {service} toegang{purpose}, {when}.",
        "You gave {service} access{purpose}, {when}.",
    ),
    "grant.denied": (
        "U zei nee tegen de vraag van {service}, {when}. {service} kreeg niets.",
        "You said no to the question from {service}, {when}. {service} got nothing.",
    ),
    "grant.lapsed": (
        "De vraag van {service} is verlopen zonder antwoord, {when}. Er hoeft niets meer te "
        "gebeuren.",
        "The question from {service} expired without an answer, {when}. Nothing more is needed.",
    ),
    "grant.lapsed.procedure-closed": (
        "De vraag van {service} is vervallen, want de behandeling of zaak is klaar, {when}.",
        "The question from {service} was dropped because the treatment or case is finished, "
        "{when}.",
    ),
    "grant.lapsed.vault-deleted": (
        "De vraag van {service} is vervallen, want de kluis is weggegooid, {when}.",
        "The question from {service} was dropped because the vault was deleted, {when}.",
    ),
    "grant.ended": (
        "De toegang van {service} is gestopt, {when}.",
        "Access for {service} stopped, {when}.",
    ),
    "grant.ended.revoked": (
        "U heeft de toegang van {service} gestopt, {when}.",
        "You stopped access for {service}, {when}.",
    ),
    "grant.ended.relinquished": (
        "{service} heeft de toegang teruggegeven, {when}.",
        "{service} gave the access back, {when}.",
    ),
    "grant.ended.procedure-closed": (
        "De toegang van {service} is gestopt, want de behandeling of zaak is klaar, {when}.",
        "Access for {service} stopped because the treatment or case is finished, {when}.",
    ),
    "grant.ended.expired": (
        "De toegang van {service} is gestopt, want de einddatum was bereikt, {when}.",
        "Access for {service} stopped because the end date was reached, {when}.",
    ),
    "grant.ended.token-reuse": (
        "De toegang van {service} is gestopt voor uw veiligheid, want er werd iets dubbel "
        "gebruikt, {when}.",
        "Access for {service} stopped for your safety because something was used twice, {when}.",
    ),
    "grant.ended.vault-deleted": (
        "De toegang van {service} is gestopt, want de kluis is weggegooid, {when}.",
        "Access for {service} stopped because the vault was deleted, {when}.",
    ),
    "token.revoked": (
        "{service} heeft een sleutel tot uw kluis ingeleverd, {when}. De toegang die u gaf, "
        "blijft hetzelfde.",
        "{service} handed back a key to your vault, {when}. The access you gave stays the same.",
    ),
    "procedure.closed": (
        "De behandeling of zaak bij {service} is afgesloten, {when}. De toegang die daarbij "
        "hoorde, is gestopt.",
        "The treatment or case with {service} was closed, {when}. The access that went with "
        "it has stopped.",
    ),
    "procedure.closed.planned-end": (
        "De behandeling of zaak bij {service} is afgelopen op de geplande einddatum, {when}. "
        "De toegang die daarbij hoorde, is gestopt.",
        "The treatment or case with {service} reached its planned end, {when}. The access "
        "that went with it has stopped.",
    ),
    "audit.query": (
        "Een controleur heeft in het logboek gekeken wie uw gegevens bekeek, {when}. Een "
        "controleur ziet nooit wat er in uw kluis staat.",
        "An auditor looked in the log at who looked at your data, {when}. An auditor never "
        "sees what is in your vault.",
    ),
    "audit.export": (
        "Een controleur heeft een deel van het logboek over u opgeslagen om het te "
        "controleren, {when}. Een controleur ziet nooit wat er in uw kluis staat.",
        "An auditor saved part of the log about you to check it, {when}. An auditor never "
        "sees what is in your vault.",
    ),
    # Mandates (vault/representation/): someone acting for the resident.
    "mandate.offered": (
        "U hebt iemand gevraagd om dingen voor u te regelen, {when}.",
        "You asked someone to act for you, {when}.",
    ),
    "mandate.active": (
        "Iemand die u dat vroeg, mag nu dingen voor u regelen, {when}.",
        "Someone you asked may now act for you, {when}.",
    ),
    "mandate.lapsed": (
        "Uw vraag om dingen voor u te regelen is vervallen: de code is niet op tijd "
        "gebruikt, {when}.",
        "Your request for someone to act for you lapsed: the code was not used in time, {when}.",
    ),
    "mandate.ended": (
        "Iemand regelt niets meer voor u, {when}.",
        "Someone no longer acts for you, {when}.",
    ),
    "mandate.ended.revoked": (
        "U hebt gestopt dat iemand dingen voor u regelt, {when}.",
        "You stopped someone acting for you, {when}.",
    ),
    "mandate.ended.given-up": (
        "Iemand is gestopt met dingen voor u regelen, {when}.",
        "Someone stopped acting for you, {when}.",
    ),
    "mandate.ended.expired": (
        "Iemand regelt niets meer voor u: de einddatum was bereikt, {when}.",
        "Someone no longer acts for you: the end date was reached, {when}.",
    ),
    "other": (
        "Er gebeurde iets in uw kluis ({name}), {when}.",
        "Something happened in your vault ({name}), {when}.",
    ),
}

# What someone acting for the resident under a mandate did ({by}: their name): the step,
# then who did it, "…, gedaan door Pieter voor u." (vault/representation/).
_BY: dict[str, tuple[str, str]] = {
    "record.read": (
        "{what} is bekeken, {when}, gedaan door {by} voor u.",
        "{what} was viewed, {when}, done by {by} for you.",
    ),
    "record.list": (
        "De lijst van uw gegevens is bekeken, {when}, gedaan door {by} voor u.",
        "The list of your data was viewed, {when}, done by {by} for you.",
    ),
    "record.created": (
        "{what} is in uw kluis gezet, {when}, gedaan door {by} voor u.",
        "{what} was put in your vault, {when}, done by {by} for you.",
    ),
    "record.changed": (
        "{what} is veranderd, {when}, gedaan door {by} voor u. De vorige versie blijft bewaard.",
        "{what} was changed, {when}, done by {by} for you. The previous version is kept.",
    ),
    "record.deleted": (
        "{what} is uit uw kluis gehaald, {when}, gedaan door {by} voor u.",
        "{what} was removed from your vault, {when}, done by {by} for you.",
    ),
    "grant.list": (
        "Uw vragen om toegang en wie wat mag zien, zijn bekeken, {when}, gedaan door {by} voor u.",
        "Your requests for access and who may see what were viewed, {when}, done by {by} for you.",
    ),
    "grant.read": (
        "De toegang van {service} is bekeken, {when}, gedaan door {by} voor u.",
        "Access for {service} was viewed, {when}, done by {by} for you.",
    ),
    "grant.approved": (
        "{service} kreeg toegang{purpose}, {when}, gedaan door {by} voor u.",
        "{service} was given access{purpose}, {when}, done by {by} for you.",
    ),
    "grant.denied": (
        "Er is nee gezegd tegen de vraag van {service}, {when}, gedaan door {by} voor u. "
        "{service} kreeg niets.",
        "The question from {service} was answered with no, {when}, done by {by} for you. "
        "{service} got nothing.",
    ),
    "grant.ended.revoked": (
        "De toegang van {service} is gestopt, {when}, gedaan door {by} voor u.",
        "Access for {service} was stopped, {when}, done by {by} for you.",
    ),
    "connection.code": (
        "Er is een koppelcode gemaakt, zodat een dienst u om toegang kan vragen, {when}, "
        "gedaan door {by} voor u.",
        "A connection code was made, so that a service can ask you for access, {when}, "
        "done by {by} for you.",
    ),
    "log.read": (
        "Uw logboek is bekeken, {when}, gedaan door {by} voor u.",
        "Your log was viewed, {when}, done by {by} for you.",
    ),
    "log.proof": (
        "Er is gecontroleerd dat iets echt in uw logboek staat, {when}, gedaan door {by} voor u.",
        "It was checked that an entry is really in your log, {when}, done by {by} for you.",
    ),
    # Ending a procedure for the resident (its grants end, its requests lapse with it).
    "procedure.closed": (
        "De behandeling of zaak bij {service} is afgesloten, {when}, gedaan door {by} voor "
        "u. De toegang die daarbij hoorde, is gestopt.",
        "The treatment or case with {service} was closed, {when}, done by {by} for you. The "
        "access that went with it has stopped.",
    ),
    "grant.ended.procedure-closed": (
        "De toegang van {service} is gestopt, want de behandeling of zaak is klaar, {when}, "
        "gedaan door {by} voor u.",
        "Access for {service} stopped because the treatment or case is finished, {when}, "
        "done by {by} for you.",
    ),
    "grant.lapsed.procedure-closed": (
        "De vraag van {service} is vervallen, want de behandeling of zaak is klaar, {when}, "
        "gedaan door {by} voor u.",
        "The question from {service} was dropped because the treatment or case is finished, "
        "{when}, done by {by} for you.",
    ),
    # A parent giving or ending a mandate for the child's vault (the second parent).
    "mandate.offered": (
        "Er is iemand gevraagd om dingen voor u te regelen, {when}, gedaan door {by} voor u.",
        "Someone was asked to act for you, {when}, done by {by} for you.",
    ),
    "mandate.ended.revoked": (
        "Er is gestopt dat iemand dingen voor u regelt, {when}, gedaan door {by} voor u.",
        "Someone was stopped from acting for you, {when}, done by {by} for you.",
    ),
    # An attempt the mandate did not allow ({topic}: the category's data; {why}: _REFUSED).
    "mandate.refused": (
        "{by} wilde iets voor u regelen met {topic}, maar dat kon niet: {why}, {when}. Er is "
        "niets veranderd.",
        "{by} wanted to act for you on {topic}, but could not: {why}, {when}. Nothing was changed.",
    ),
    # A refused deletion of the vault (a child's, by someone who is not its parent).
    "mandate.refused.delete-vault": (
        "{by} wilde uw kluis weggooien, maar dat kon niet: {why}, {when}. Er is niets veranderd.",
        "{by} wanted to delete your vault, but could not: {why}, {when}. Nothing was changed.",
    ),
    # Too many refused attempts: the rest were stopped before the log (throttle.py).
    "mandate.throttled": (
        "{by} probeerde vaak iets voor u te doen zonder toestemming, {when}. We hebben dat "
        "gestopt. Er is niets veranderd.",
        "{by} often tried to do something for you without permission, {when}. We have "
        "stopped that. Nothing was changed.",
    ),
    "other": (
        "Er gebeurde iets in uw kluis ({name}), {when}, gedaan door {by} voor u.",
        "Something happened in your vault ({name}), {when}, done by {by} for you.",
    ),
}
_SOMEONE = ("iemand", "someone")
_OUTSIDE = ("dat valt buiten wat u toestond", "that is outside what you allowed")
_REFUSED: dict[str, tuple[str, str]] = {
    "action-not-in-scope": _OUTSIDE,
    "category-not-in-scope": _OUTSIDE,
    "empty-scope": _OUTSIDE,
    "mandate-ended": ("de machtiging was gestopt", "the mandate had ended"),
    "mandate-expired": (
        "de einddatum van de machtiging was bereikt",
        "the end date of the mandate had been reached",
    ),
    "not-yet-valid": ("de machtiging begint later", "the mandate starts later"),
    "not-a-parent": ("dat mag alleen een ouder", "only a parent may do that"),
}

# Why a service was refused ({why}); "ended.*" by the grant's end reason.
_WHY: dict[str, tuple[str, str]] = {
    "ended": ("had geen toegang meer", "no longer had access"),
    "ended.revoked": (
        "had geen toegang meer (u had de toegang gestopt)",
        "no longer had access (you had stopped it)",
    ),
    "ended.relinquished": (
        "had geen toegang meer (de dienst had de toegang teruggegeven)",
        "no longer had access (the service had given it back)",
    ),
    "ended.procedure-closed": (
        "had geen toegang meer (de behandeling of zaak was klaar)",
        "no longer had access (the treatment or case was finished)",
    ),
    "ended.expired": (
        "had geen toegang meer (de einddatum was bereikt)",
        "no longer had access (the end date had been reached)",
    ),
    "ended.token-reuse": (
        "had geen toegang meer (die was gestopt voor uw veiligheid)",
        "no longer had access (it had been stopped for your safety)",
    ),
    "grant-expired": (
        "had geen toegang meer (de einddatum was bereikt)",
        "no longer had access (the end date had been reached)",
    ),
    "procedure-closed": (
        "had geen toegang meer (de behandeling of zaak was klaar)",
        "no longer had access (the treatment or case was finished)",
    ),
    "procedure-ended": (
        "had geen toegang meer (de behandeling of zaak was afgelopen)",
        "no longer had access (the treatment or case had reached its end)",
    ),
    "datatype-not-granted": (
        "had geen toegang tot dit soort gegevens",
        "had no access to this kind of data",
    ),
    "action-not-granted.read": ("mocht dit niet bekijken", "was not allowed to view it"),
    "action-not-granted.write": (
        "mocht niets in uw kluis zetten",
        "was not allowed to put anything in your vault",
    ),
    "service-disabled": (
        "deze dienst mag Regie nu niet gebruiken",
        "this service may not use Regie at the moment",
    ),
    "invalid-signature": ("de handtekening klopte niet", "its signature was not valid"),
    "no-access": ("had geen toegang", "had no access"),
}

_NO_SERVICE = ("een dienst", "a service")
_YOUR_DATA = ("uw gegevens", "your data")
_NEUTRAL_PURPOSE = (" met de toegang die u gaf", " with the access you gave")
_WITH = (" voor ", " for ")


def sentences(facts: EventFacts, now: datetime) -> tuple[str, str]:
    """The event as (Dutch, English) sentences; `now` decides whether the year is shown."""
    return sentence(facts, _NL, now), sentence(facts, _EN, now)


def sentence(facts: EventFacts, lang: int, now: datetime) -> str:
    """The event in one language (0 Dutch, 1 English)."""
    key, why = _template(facts)
    service = facts.service_name or _NO_SERVICE[lang]
    by = _by(facts)
    template = _BY[by][lang] if by is not None else _T[key][lang]
    why_text = _WHY[why][lang] if why else ""
    if by is not None and by.startswith("mandate.refused"):
        why_text = _REFUSED.get(facts.reason or "", ("dat mocht niet", "it was not allowed"))[lang]
    text = template.format(
        by=" ".join((facts.representative_name or "").split()) or _SOMEONE[lang],
        topic=_topic(facts.datatype, lang),
        service=service,
        what=what(facts.datatype, lang),
        purpose=_purpose(facts, lang),
        why=why_text,
        when=when(facts.at, lang, now),
        name=facts.name,
    )
    return text[0].upper() + text[1:]


def _by(facts: EventFacts) -> str | None:
    """The template key of a step a representative did for the resident; None for any other
    event. A mandate's own changes keep their sentences (accepting, giving up: they are
    about the mandate), but a parent offering or ending one for the child says who."""
    if facts.name == "mandate.refused" and facts.action == "delete-vault":
        return "mandate.refused.delete-vault"
    if facts.name in ("mandate.refused", "mandate.throttled"):
        return facts.name
    if facts.actor != "representative":
        return None
    if facts.name == "mandate.offered":
        return facts.name
    if facts.name == "mandate.ended" and facts.reason == "revoked":
        return "mandate.ended.revoked"
    if facts.name.startswith("mandate."):
        return None
    if facts.name in ("grant.ended", "grant.lapsed"):
        specific = f"{facts.name}.{facts.reason}"
        return specific if specific in _BY else "other"
    return facts.name if facts.name in _BY else "other"


def _template(facts: EventFacts) -> tuple[str, str | None]:
    """The template key, and for a refusal the key of its reason."""
    if facts.name in ("record.read", "record.list", "record.write"):
        if facts.outcome != "deny":
            return f"{facts.name}.permit", None
        if facts.name == "record.read" and facts.datatype is None:
            return "record.read.missing", None  # a probe for a record that is not there
        return f"{facts.name}.deny", _why(facts)
    if facts.name in ("grant.lapsed", "grant.ended", "procedure.closed", "mandate.ended"):
        specific = f"{facts.name}.{facts.reason}"
        return (specific if specific in _T else facts.name), None
    if facts.name in _T:
        return facts.name, None
    return "other", None


def _why(facts: EventFacts) -> str:
    reason = facts.reason or ""
    if reason == "grant-ended":
        specific = f"ended.{facts.grant_end_reason}"
        return specific if specific in _WHY else "ended"
    if reason == "action-not-granted":
        return "action-not-granted.write" if facts.action == "write" else "action-not-granted.read"
    return reason if reason in _WHY else "no-access"


def _purpose(facts: EventFacts, lang: int) -> str:
    text = " ".join((facts.purpose_text or "").split())
    if text:
        # "Medicatiebeoordeling voor ..." reads as "voor medicatiebeoordeling voor ...";
        # an abbreviation ("WMO-indicatie") keeps its capitals.
        if len(text) > 1 and text[1].islower():
            text = text[0].lower() + text[1:]
        return _WITH[lang] + text
    if facts.name in ("record.read", "record.list", "record.write"):
        return _NEUTRAL_PURPOSE[lang]
    return ""


def _topic(datatype: str | None, lang: int) -> str:
    """A category's data ("uw gegevens over schulden"), or "uw gegevens" for none."""
    category = CATEGORIES.get((datatype or "").split(".", 1)[0])
    if category is None:
        return _YOUR_DATA[lang]
    words = (category.nl, category.en)[lang].lower()
    return (f"uw gegevens over {words}", f"your {words} data")[lang]


def what(datatype: str | None, lang: int) -> str:
    """The data, as a resident says it: "uw medicatieoverzicht", "your medication overview"."""
    if datatype is None:
        return _YOUR_DATA[lang]
    label = TYPES.get(datatype)
    category, _, name = datatype.partition(".")
    if label is None or name == "other":
        cat = CATEGORIES.get(category)
        if cat is None or category == "other":
            return ("uw overige gegevens", "your other data")[lang]
        words = (cat.nl, cat.en)[lang].lower()
        return (f"uw overige gegevens over {words}", f"your other {words} data")[lang]
    words = (label.nl, label.en)[lang]
    return ("uw ", "your ")[lang] + words[0].lower() + words[1:]


def when(moment: datetime, lang: int, now: datetime) -> str:
    """ "op 3 maart om 14:02" / "on 3 March at 14:02", in Dutch time; the year if not now's."""
    local = moment.astimezone(LOCAL_TIME)
    day = f"{local.day} {MONTHS[lang][local.month - 1]}"
    if local.year != now.astimezone(LOCAL_TIME).year:
        day += f" {local.year}"
    return (f"op {day} om {local:%H:%M}", f"on {day} at {local:%H:%M}")[lang]
