"""Everything `regie demo` says: one catalogue, `key: (dutch, english)`, Dutch first (B1).

Placeholders are `str.format` fields; the story (clients/demo/story.py) fills them.
"""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, tuple[str, str]]] = {
    # the frame
    "title": (
        "Regie: uw gegevens, uw regie. Een verhaal in vijf delen.",
        "Regie: your data, your say. A story in five parts.",
    ),
    "starting": (
        "We starten een kluis op een tijdelijke database ({url}).",
        "We start a vault on a temporary database ({url}).",
    ),
    "registered": (
        "De beheerder registreert vijf organisaties en benoemt een auditor.",
        "The operator registers five organisations and appoints an auditor.",
    ),
    "signed_up": (
        "{name} maakt een kluis aan met een passkey.",
        "{name} creates a vault with a passkey.",
    ),
    "stopped": (
        "De kluis is gestopt en de tijdelijke map is weg.",
        "The vault has stopped and the temporary folder is gone.",
    ),
    "all_ok": (
        "Alles klopt: elk deel van het verhaal deed wat het moest doen.",
        "All checks passed: every part of the story did what it should.",
    ),
    "failed": (
        "Het verhaal liep niet zoals verwacht: {problem}",
        "The story did not go as expected: {problem}",
    ),
    # 1. the school's grades travel with the child
    "school.title": (
        "1. De cijfers van Sam gaan mee naar de nieuwe school",
        "1. Sam's grades move with him to the new school",
    ),
    "school.asks": (
        "{school} vraagt {name} om cijfers van Sam in de kluis te mogen zetten.",
        "{school} asks {name} for permission to put Sam's grades in the vault.",
    ),
    "school.writes": (
        "{school} zet het rapport in de kluis, met haar digitale handtekening.",
        "{school} writes the report into the vault, with its digital signature.",
    ),
    "school.leaves": (
        "Sam gaat naar een andere school. {school} sluit de inschrijving: haar toegang stopt.",
        "Sam changes school. {school} closes the enrolment: its access stops.",
    ),
    "school.new_asks": (
        "{school} vraagt om de cijfers. {name} keurt het goed.",
        "{school} asks for the grades. {name} approves.",
    ),
    "school.verified": (
        "{school} leest het rapport en controleert de handtekening: geschreven door {issuer}.",
        "{school} reads the report and checks the signature: written by {issuer}.",
    ),
    "school.tampered": (
        "Een veranderd cijfer valt meteen op: die handtekening klopt niet meer.",
        "A changed grade shows at once: the signature no longer fits.",
    ),
    # 2. treatment done, data gone
    "care.title": (
        "2. Behandeling klaar, gegevens weg",
        "2. Treatment done, data gone",
    ),
    "care.asks": (
        "{clinic} vraagt het medicatieoverzicht voor de behandeling {procedure}.",
        "{clinic} asks for the medication overview for treatment {procedure}.",
    ),
    "care.approved": (
        "{name} keurt het goed, alleen voor deze behandeling.",
        "{name} approves, for this treatment only.",
    ),
    "care.read": (
        "{clinic} leest het overzicht en bewaart het zolang de toestemming loopt ({count} in"
        " de cache).",
        "{clinic} reads the overview and keeps it while the permission lasts ({count} in the"
        " cache).",
    ),
    "care.closed": (
        "De behandeling is klaar. {clinic} sluit haar af: {ended} toestemming gestopt.",
        "The treatment is done. {clinic} closes it: {ended} permission ended.",
    ),
    "care.purged": (
        "De kluis meldt dat de toestemming is gestopt ({reason}). De melding is echt en wist"
        " de cache: {purged} weg, nu {count} over.",
        "The vault reports that the permission ended ({reason}). The message is genuine and"
        " clears the cache: {purged} gone, {count} left.",
    ),
    "care.refused": (
        "{clinic} probeert het overzicht nog eens te lezen. De kluis weigert: {error}.",
        "{clinic} tries to read the overview again. The vault refuses: {error}.",
    ),
    # 3. less than asked
    "home.title": (
        "3. De gemeente krijgt minder dan ze vraagt",
        "3. The municipality gets less than it asks for",
    ),
    "home.asks": (
        "{municipality} vraagt om inkomen en wonen, voor hulp in huis.",
        "{municipality} asks for income and housing data, for home care.",
    ),
    "home.narrowed": (
        "{name} geeft alleen wonen. Inkomen geeft ze niet.",
        "{name} shares housing only. She does not share income.",
    ),
    "home.read": (
        "{municipality} leest het huurcontract.",
        "{municipality} reads the rental contract.",
    ),
    "home.refused": (
        "{municipality} probeert de loonstrook te lezen. De kluis weigert: {error}.",
        "{municipality} tries to read the payslip. The vault refuses: {error}.",
    ),
    "home.revoked": (
        "Later stopt {name} de toestemming met één tik. {municipality} kan niets meer lezen.",
        "Later {name} stops the permission with one tap. {municipality} can read nothing more.",
    ),
    # 4. someone acts for her
    "mandate.title": (
        "4. Een bewindvoerder regelt dingen voor haar",
        "4. A debt administrator acts for her",
    ),
    "mandate.offered": (
        "{name} geeft {administrator} een machtiging: schulden en inkomen, lezen, aanvullen"
        " en beslissen over verzoeken, één jaar. Ze geeft hem de code.",
        "{name} gives {administrator} a mandate: debts and income, read, write and decide"
        " on requests, for one year. She gives him the code.",
    ),
    "mandate.accepted": (
        "{administrator} logt in met zijn eigen passkey en vult de code in. De machtiging"
        " loopt nu.",
        "{administrator} signs in with his own passkey and enters the code. The mandate"
        " is now active.",
    ),
    "mandate.sees": (
        "{administrator} ziet voor {name} alleen wat onder de machtiging valt: {titles}."
        " Haar medicatieoverzicht ziet hij niet.",
        "For {name}, {administrator} sees only what the mandate covers: {titles}."
        " He does not see her medication overview.",
    ),
    "mandate.refused": (
        "{administrator} probeert toch het medicatieoverzicht te openen. De kluis weigert:"
        " {error}.",
        "{administrator} tries to open the medication overview anyway. The vault refuses: {error}.",
    ),
    "mandate.writes": (
        "{administrator} zet een betalingsregeling in de kluis van {name}.",
        "{administrator} puts a payment plan in {name}'s vault.",
    ),
    "mandate.asks": (
        "{lender} vraagt om de betalingsregelingen, voor schuldhulp.",
        "{lender} asks for the payment plans, for debt counselling.",
    ),
    "mandate.decided": (
        "{administrator} ziet het verzoek en zegt ja, voor {name}. {lender} leest de"
        " betalingsregeling.",
        "{administrator} sees the request and approves it, for {name}. {lender} reads the"
        " payment plan.",
    ),
    "mandate.logged": (
        "In het logboek van {name} staat wat hij deed: {sentence}",
        "{name}'s log shows what he did: {sentence_en}",
    ),
    "mandate.stopped": (
        "{name} stopt de machtiging. {administrator} kan niets meer voor haar doen: {error}.",
        "{name} stops the mandate. {administrator} can do nothing more for her: {error}.",
    ),
    # 5. the auditor
    "audit.title": (
        "5. Een auditor controleert het logboek",
        "5. An auditor checks the log",
    ),
    "audit.signed_in": (
        "De auditor {auditor} logt in met een passkey.",
        "The auditor {auditor} signs in with a passkey.",
    ),
    "audit.verified": (
        "Zij haalt het logboek op ({entries} regels) en controleert het zonder netwerk tegen"
        " het ondertekende controlepunt en de publieke sleutel: in orde.",
        "She exports the log ({entries} entries) and verifies it offline against the signed"
        " checkpoint and the public key: OK.",
    ),
    "audit.tampered": (
        "Eén veranderde regel valt op: de controle wijst regel {index} aan.",
        "One changed entry is caught: verification points at entry {index}.",
    ),
    "audit.log": (
        "Dit ziet {name} in haar logboek ({count} regels):",
        "This is what {name} sees in her log ({count} entries):",
    ),
}


def nl(key: str, **values: object) -> str:
    return TEXTS[key][0].format(**values)


def en(key: str, **values: object) -> str:
    return TEXTS[key][1].format(**values)
