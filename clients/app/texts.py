"""Every text a resident reads, in Dutch (B1, first) and English: one catalogue.

Each entry is `key: (dutch, english)`, so a text cannot exist in one language only;
`tests/unit/test_app_texts.py` checks that every key a template or view uses is here, that
both sides have the same `{placeholders}`, and that none is empty. Writing rules: short
sentences, no jargon ("toegang", not "autorisatie"; "stoppen", not "intrekken"), say what
happens before the button, and never blame the resident.
"""

from __future__ import annotations

import string
from datetime import datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LOCAL_TIME = ZoneInfo("Europe/Amsterdam")

MONTHS = {
    "nl": [
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
    ],
    "en": [
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
    ],
}

TEXTS: dict[str, tuple[str, str]] = {
    # -- the frame ---------------------------------------------------------------------------
    "app.name": ("Regie", "Regie"),
    "app.tagline": ("Uw gegevens, in uw eigen kluis.", "Your data, in your own vault."),
    "nav.label": ("Menu", "Menu"),
    "nav.home": ("Overzicht", "Overview"),
    "nav.data": ("Mijn gegevens", "My data"),
    "nav.access": ("Wie ziet wat", "Who sees what"),
    "nav.log": ("Wie keek er", "Who looked"),
    "nav.people": ("Mensen", "People"),
    "nav.connect": ("Koppelen", "Connect"),
    "nav.account": ("Mijn account", "My account"),
    "nav.skip": ("Direct naar de inhoud", "Skip to content"),
    "lang.switch": ("English", "Nederlands"),
    "sign_out.button": ("Uitloggen", "Sign out"),
    "back.home": ("Terug naar het overzicht", "Back to the overview"),
    "back": ("Terug", "Back"),
    "cancel": ("Nee, ga terug", "No, go back"),
    "footer.text": (
        "Regie bewaart uw gegevens versleuteld. Alleen u bepaalt wie ze mag zien.",
        "Regie keeps your data encrypted. Only you decide who may see it.",
    ),
    # -- welcome, sign up, sign in -------------------------------------------------------------
    "welcome.title": ("Welkom bij Regie", "Welcome to Regie"),
    "welcome.intro": (
        "In Regie staan uw gegevens in uw eigen kluis. U kiest zelf wie ze mag zien, waarvoor "
        "en hoe lang.",
        "In Regie your data is in your own vault. You choose who may see it, what for, and "
        "for how long.",
    ),
    "welcome.have_account": ("Heeft u al een kluis?", "Do you have a vault already?"),
    "welcome.new": ("Nieuw bij Regie?", "New to Regie?"),
    "welcome.sign_up": ("Maak een kluis", "Make a vault"),
    "welcome.sign_in": ("Inloggen", "Sign in"),
    "passkey.what": (
        "U logt in met een sleutel op uw telefoon of computer. Dat is uw vingerafdruk, uw "
        "gezicht of de pincode van uw toestel. U heeft geen wachtwoord nodig.",
        "You sign in with a key on your phone or computer: your fingerprint, your face or "
        "your device's PIN. You do not need a password.",
    ),
    "sign_up.title": ("Een kluis maken", "Make a vault"),
    "sign_up.intro": (
        "Uw telefoon of computer maakt een sleutel voor uw kluis. Die sleutel blijft op uw "
        "toestel.",
        "Your phone or computer makes a key for your vault. The key stays on your device.",
    ),
    "sign_up.name": ("Hoe wilt u genoemd worden?", "What should we call you?"),
    "sign_up.name.hint": (
        "Bijvoorbeeld uw voornaam. Alleen u ziet deze naam.",
        "For example your first name. Only you see this name.",
    ),
    "sign_up.button": ("Maak mijn kluis", "Make my vault"),
    "sign_up.name.missing": (
        "Vul een naam in. Eén woord is genoeg.",
        "Please fill in a name. One word is enough.",
    ),
    "sign_in.title": ("Inloggen", "Sign in"),
    "sign_in.intro": (
        "Druk op de knop. Uw toestel vraagt dan om uw vingerafdruk, gezicht of pincode.",
        "Press the button. Your device then asks for your fingerprint, face or PIN.",
    ),
    "sign_in.button": ("Inloggen met mijn sleutel", "Sign in with my key"),
    "sign_in.lost": ("Sleutel kwijt?", "Lost your key?"),
    "sign_in.use_code": ("Log in met een herstelcode", "Sign in with a recovery code"),
    "sign_in.expired": (
        "U bent uitgelogd, omdat u een tijdje niets deed. Zo blijven uw gegevens veilig. Log "
        "opnieuw in.",
        "You were signed out because nothing happened for a while. This keeps your data "
        "safe. Please sign in again.",
    ),
    "passkey.needs_js": (
        "Voor de sleutel moet JavaScript aan staan in uw browser. Zet het aan en probeer het "
        "opnieuw.",
        "The key needs JavaScript in your browser. Please turn it on and try again.",
    ),
    "passkey.working": ("Even wachten op uw toestel…", "Waiting for your device…"),
    "passkey.cancelled": (
        "Het maken of gebruiken van de sleutel is gestopt. Probeer het gerust opnieuw.",
        "Making or using the key was stopped. Please try again.",
    ),
    "passkey.unsupported": (
        "Deze browser kan niet met sleutels werken. Probeer een nieuwere browser.",
        "This browser cannot work with keys. Please try a newer browser.",
    ),
    "passkey.failed": (
        "Het inloggen met de sleutel lukte niet. Probeer het opnieuw.",
        "Signing in with the key did not work. Please try again.",
    ),
    "passkey.unknown": (
        "Deze sleutel kennen we niet. Misschien hoort hij bij een kluis die niet meer bestaat. "
        "Maak een nieuwe kluis, of gebruik een herstelcode.",
        "We do not know this key. It may belong to a vault that no longer exists. Make a new "
        "vault, or use a recovery code.",
    ),
    # -- recovery codes -----------------------------------------------------------------------
    "codes.title": ("Uw herstelcodes", "Your recovery codes"),
    "codes.intro": (
        "Raakt u uw telefoon of computer kwijt? Dan kunt u met een van deze codes toch in uw "
        "kluis. Elke code werkt één keer.",
        "If you lose your phone or computer, one of these codes still lets you into your "
        "vault. Each code works once.",
    ),
    "codes.once": (
        "U ziet deze codes alleen nu. Schrijf ze op of print deze pagina. Bewaar ze op een "
        "veilige plek, niet op hetzelfde toestel.",
        "You only see these codes now. Write them down or print this page. Keep them in a "
        "safe place, not on the same device.",
    ),
    "codes.list": ("Herstelcodes", "Recovery codes"),
    "codes.done": ("Ik heb de codes bewaard", "I have kept the codes"),
    "codes.then_service": (
        "Daarna ziet u wat de dienst vraagt.",
        "Then you will see what the service asks.",
    ),
    "recover.title": ("Inloggen met een herstelcode", "Sign in with a recovery code"),
    "recover.intro": (
        "Vul een van uw herstelcodes in. Streepjes en hoofdletters maken niet uit.",
        "Fill in one of your recovery codes. Dashes and capitals do not matter.",
    ),
    "recover.code": ("Herstelcode", "Recovery code"),
    "recover.button": ("Inloggen", "Sign in"),
    "recover.invalid": (
        "Deze code werkt niet. Misschien is hij al gebruikt. Kijk of u hem goed heeft "
        "overgenomen, of probeer een andere code.",
        "This code does not work. Perhaps it was used already. Check that it was copied "
        "correctly, or try another code.",
    ),
    "recover.banner": (
        "U bent ingelogd met een herstelcode. Maak nu een nieuwe sleutel, dan kunt u weer "
        "gewoon inloggen.",
        "You signed in with a recovery code. Make a new key now, so you can sign in as usual "
        "again.",
    ),
    "recover.banner.link": ("Nieuwe sleutel maken", "Make a new key"),
    # -- home -----------------------------------------------------------------------------------
    "home.title": ("Hallo {name}", "Hello {name}"),
    "home.waiting": ("Wacht op uw antwoord", "Waiting for your answer"),
    "home.waiting.none": (
        "Er wachten geen vragen op u.",
        "No questions are waiting for you.",
    ),
    "home.waiting.one": ("{service} vraagt om uw gegevens.", "{service} asks for your data."),
    "home.waiting.open": ("Bekijk de vraag", "See the question"),
    "home.seeing": ("Wie kan nu uw gegevens zien", "Who can see your data now"),
    "home.seeing.none": (
        "Niemand kan nu uw gegevens zien.",
        "Nobody can see your data now.",
    ),
    "home.seeing.service": ("{service}: {what}", "{service}: {what}"),
    "home.seeing.all": ("Bekijk wie wat ziet", "See who sees what"),
    "home.looks": ("Recent bekeken", "Recent looks"),
    "home.looks.none": (
        "Nog geen enkele dienst heeft uw gegevens bekeken.",
        "No service has looked at your data yet.",
    ),
    "home.looks.all": ("Bekijk wie uw gegevens bekeek", "See who looked at your data"),
    "home.people": ("Mensen", "People"),
    "home.people.none": (
        "Niemand regelt iets voor u, en u regelt voor niemand iets.",
        "Nobody arranges things for you, and you arrange things for nobody.",
    ),
    "home.people.for_me": (
        "Mensen die dingen voor u mogen regelen: {count}",
        "People who may arrange things for you: {count}",
    ),
    "home.people.i_act_for": (
        "Mensen voor wie u dingen regelt: {count}",
        "People for whom you arrange things: {count}",
    ),
    "home.people.children": ("Kluizen van uw kinderen: {count}", "Your children's vaults: {count}"),
    "home.people.open": ("Naar Mensen", "Go to People"),
    "home.data": ("Mijn gegevens", "My data"),
    "home.data.count": ("Er staan {count} stukken in uw kluis.", "Your vault holds {count} items."),
    "home.data.open": ("Naar mijn gegevens", "Go to my data"),
    # -- my data --------------------------------------------------------------------------------
    "data.title": ("Mijn gegevens", "My data"),
    "data.intro": (
        "Dit staat in uw kluis. Alleen u ziet het, en wie u toegang geeft.",
        "This is in your vault. Only you can see it, and whoever you give access.",
    ),
    "data.empty": (
        "Uw kluis is nog leeg. Voeg iets toe, of laat een dienst iets voor u in uw kluis zetten.",
        "Your vault is still empty. Add something, or let a service put something in it for you.",
    ),
    "data.add": ("Iets toevoegen", "Add something"),
    "data.by_service": ("Gezet door {service}", "Put here by {service}"),
    "data.by_you": ("Door u gezet", "Put here by you"),
    "data.a_service": ("een dienst", "a service"),
    "data.versions_count": ("{count} versies", "{count} versions"),
    "data.no_title": ("(zonder naam)", "(no name)"),
    "record.kept": (
        "{service} heeft dit in uw kluis gezet. Het blijft van u, ook als {service} geen "
        "toegang meer heeft.",
        "{service} put this in your vault. It stays yours, also when {service} no longer has "
        "access.",
    ),
    "record.signed": (
        "{service} heeft dit ondertekend. Zo kan een andere dienst zien dat het echt van "
        "{service} komt.",
        "{service} signed this. Another service can then check that it really comes from "
        "{service}.",
    ),
    "record.kind": ("Soort", "Kind"),
    "record.category": ("Onderwerp", "Subject"),
    "record.content": ("Inhoud", "Content"),
    "record.file": ("Bestand", "File"),
    "record.download": ("Download {filename}", "Download {filename}"),
    "record.no_file": ("Er is nog geen bestand.", "There is no file yet."),
    "record.changed": ("Laatst veranderd", "Last changed"),
    "record.versions": ("Eerdere versies", "Earlier versions"),
    "record.version": ("Versie {number}", "Version {number}"),
    "record.version.of": ("{date}, door {who}", "{date}, by {who}"),
    "record.version.you": ("u", "you"),
    "record.version.title": ("Versie {number} van {title}", "Version {number} of {title}"),
    "record.version.old": (
        "Dit is een oudere versie. De nieuwste versie is {number}.",
        "This is an older version. The newest version is {number}.",
    ),
    "record.edit": ("Veranderen", "Change"),
    "record.delete": ("Weggooien", "Delete"),
    "record.back": ("Terug naar mijn gegevens", "Back to my data"),
    "record.new.title": ("Iets toevoegen", "Add something"),
    "record.new.type": ("Wat is het?", "What is it?"),
    "record.new.name": ("Naam", "Name"),
    "record.new.name.hint": (
        "Een korte naam, zodat u het terugvindt.",
        "A short name, so you can find it again.",
    ),
    "record.new.note": ("Tekst", "Text"),
    "record.new.note.hint": (
        "Schrijf hier wat u wilt bewaren. Dit mag ook leeg blijven als u een bestand kiest.",
        "Write what you want to keep. You may leave this empty when you choose a file.",
    ),
    "record.new.file": ("Of een bestand (niet verplicht)", "Or a file (optional)"),
    "record.new.file.hint": (
        "Bijvoorbeeld een brief of een foto. Hoogstens 25 MB.",
        "For example a letter or a photo. At most 25 MB.",
    ),
    "record.new.button": ("Bewaar in mijn kluis", "Keep in my vault"),
    "record.new.missing_name": ("Geef het een naam.", "Please give it a name."),
    "record.new.missing_type": ("Kies wat het is.", "Please choose what it is."),
    "record.edit.title": ("{title} veranderen", "Change {title}"),
    "record.edit.intro": (
        "Als u iets verandert, bewaart Regie de oude versie ook. U kunt die altijd terugzien.",
        "When you change something, Regie keeps the old version too. You can always see it again.",
    ),
    "record.edit.fixed": (
        "De inhoud is door een dienst gezet en kunt u hier niet veranderen. De naam wel.",
        "A service put the content here; you cannot change it here. You can change the name.",
    ),
    "record.edit.new_file": ("Nieuw bestand (niet verplicht)", "New file (optional)"),
    "record.edit.button": ("Bewaar de verandering", "Save the change"),
    "record.edit.stale": (
        "Dit is intussen ergens anders veranderd. Kijk of uw verandering nog klopt en probeer "
        "het opnieuw.",
        "This was changed somewhere else in the meantime. Check that your change is still "
        "right and try again.",
    ),
    "record.edit.nothing": ("Er is niets veranderd.", "Nothing was changed."),
    "record.delete.title": ("{title} weggooien?", "Delete {title}?"),
    "record.delete.warning": (
        "Als u dit weggooit, is het met alle versies uit uw kluis verdwenen. Dat kunt u niet "
        "terugdraaien. Diensten die het al gelezen hebben, hebben het misschien nog.",
        "If you delete this, it is gone from your vault with all its versions. You cannot "
        "undo this. Services that read it before may still have it.",
    ),
    "record.delete.button": ("Ja, gooi het weg", "Yes, delete it"),
    "record.deleted": ("{title} is weggegooid.", "{title} was deleted."),
    "record.saved": ("Bewaard in uw kluis.", "Kept in your vault."),
    "record.too_large": (
        "Dit bestand is te groot. Het mag hoogstens 25 MB zijn.",
        "This file is too large. It may be 25 MB at most.",
    ),
    # -- a request --------------------------------------------------------------------------------
    "request.title": ("{service} vraagt om uw gegevens", "{service} asks for your data"),
    "request.why": ("Waarom", "Why"),
    "request.for": ("Waarvoor", "What for"),
    "request.what": ("Welke gegevens", "Which data"),
    "request.how": ("Wat mag {service}", "What {service} may do"),
    "request.until": ("Tot wanneer", "Until when"),
    "request.code": ("Code van de dienst", "Code from the service"),
    "request.code.hint": (
        "Klopt deze code met wat de dienst u liet zien? Zo weet u dat de vraag echt van hen komt.",
        "Does this code match what the service showed you? Then you know the question really "
        "comes from them.",
    ),
    "request.answer_before": ("Geef antwoord voor {date}.", "Please answer before {date}."),
    "request.choose": (
        "U mag minder geven dan gevraagd. Haal dan het vinkje weg bij wat u niet wilt delen.",
        "You may give less than asked. Untick whatever you do not want to share.",
    ),
    "request.read_only": (
        "Alleen lezen: {service} mag niets in mijn kluis zetten",
        "Read only: {service} may not put anything in my vault",
    ),
    "request.until.hint": (
        "U mag een eerdere datum kiezen. Na deze dag stopt de toegang vanzelf.",
        "You may choose an earlier date. After this day access stops by itself.",
    ),
    "request.consequence": (
        "Als u ja zegt, kan {service} de gegevens met een vinkje zien tot en met de datum "
        "hierboven, of tot de behandeling of zaak klaar is. U kunt de toegang altijd zelf "
        "stoppen.",
        "If you say yes, {service} can see the ticked data until the date above, or until the "
        "treatment or case is finished. You can always stop the access yourself.",
    ),
    "request.approve": ("Ja, geef toegang", "Yes, give access"),
    "request.deny": ("Nee, geen toegang", "No access"),
    "request.deny.consequence": (
        "Zegt u nee, dan krijgt {service} niets. {service} hoort alleen dat u nee zei.",
        "If you say no, {service} gets nothing. {service} only hears that you said no.",
    ),
    "request.none_chosen": (
        "U heeft geen gegevens aangevinkt. Vink minstens één ding aan, of kies 'Nee, geen "
        "toegang'.",
        "You did not tick any data. Tick at least one thing, or choose 'No access'.",
    ),
    "request.bad_date": (
        "Kies een datum tussen vandaag en {date}.",
        "Please choose a date between today and {date}.",
    ),
    "request.answered": (
        "Deze vraag is al beantwoord of verlopen. Er hoeft niets meer te gebeuren.",
        "This question has been answered already or has expired. Nothing more is needed.",
    ),
    "request.approved": (
        "Gelukt. {service} heeft nu toegang. U kunt die altijd stoppen.",
        "Done. {service} has access now. You can always stop it.",
    ),
    "request.denied": (
        "U heeft nee gezegd. {service} krijgt niets.",
        "You said no. {service} gets nothing.",
    ),
    "action.read": ("lezen", "read"),
    "action.write": ("iets in uw kluis zetten", "put something in your vault"),
    "actions.read": ("Lezen", "Read"),
    "actions.read_write": (
        "Lezen, en iets in uw kluis zetten",
        "Read, and put something in your vault",
    ),
    # -- who sees what --------------------------------------------------------------------------
    "access.title": ("Wie ziet wat", "Who sees what"),
    "access.intro": (
        "Deze diensten kunnen nu gegevens uit uw kluis zien. U kunt de toegang altijd stoppen.",
        "These services can see data from your vault now. You can always stop the access.",
    ),
    "access.none": (
        "Geen enkele dienst kan nu uw gegevens zien.",
        "No service can see your data now.",
    ),
    "access.procedure": ("Voor", "For"),
    "access.sees": ("Ziet", "Sees"),
    "access.may": ("Mag", "May"),
    "access.until": ("Tot en met", "Until"),
    "access.until_procedure": (
        "{date}, of eerder als de behandeling of zaak klaar is",
        "{date}, or sooner when the treatment or case is finished",
    ),
    "access.details": ("Meer over deze toegang", "More about this access"),
    "access.stop": ("Stoppen", "Stop"),
    "access.stop.named": ("Stop de toegang van {service}", "Stop access for {service}"),
    "access.stop_service": ("Stop alles voor {service}", "Stop everything for {service}"),
    "access.close_procedure": (
        "Deze behandeling of zaak is klaar",
        "This treatment or case is finished",
    ),
    "access.history": ("Wat er gebeurde", "What happened"),
    "access.earlier": ("Eerder", "Earlier"),
    "access.earlier.intro": (
        "Vragen en toegang die voorbij zijn.",
        "Questions and access that are over.",
    ),
    "stop.title": ("Toegang van {service} stoppen?", "Stop access for {service}?"),
    "stop.consequence": (
        "Als u stopt, kan {service} deze gegevens meteen niet meer zien. Wat {service} in uw "
        "kluis zette, blijft van u. Wil {service} later weer iets zien, dan moet {service} het "
        "opnieuw vragen.",
        "If you stop, {service} immediately can no longer see this data. What {service} put in "
        "your vault stays yours. If {service} wants to see something later, {service} has to ask "
        "again.",
    ),
    "stop.button": ("Ja, stop de toegang", "Yes, stop the access"),
    "stop.done": ("De toegang van {service} is gestopt.", "Access for {service} has stopped."),
    "stop.already": (
        "Deze toegang was al gestopt. Er hoeft niets meer te gebeuren.",
        "This access had stopped already. Nothing more is needed.",
    ),
    "stop_service.title": ("Alles stoppen voor {service}?", "Stop everything for {service}?"),
    "stop_service.consequence": (
        "Als u alles stopt, kan {service} niets meer uit uw kluis zien, voor geen enkele "
        "behandeling of zaak. Vragen die nog wachten, vervallen ook.",
        "If you stop everything, {service} can no longer see anything in your vault, for any "
        "treatment or case. Questions still waiting are dropped too.",
    ),
    "stop_service.button": ("Ja, stop alles", "Yes, stop everything"),
    "stop_service.done": (
        "Alles voor {service} is gestopt.",
        "Everything for {service} has stopped.",
    ),
    "close.title": ("Is {procedure} klaar?", "Is {procedure} finished?"),
    "close.consequence": (
        "Als u dit klaar meldt, stopt alle toegang die bij {procedure} hoort, voor elke dienst. "
        "Dat kunt u niet terugdraaien.",
        "If you mark this as finished, all access that belongs to {procedure} stops, for every "
        "service. You cannot undo this.",
    ),
    "close.button": ("Ja, het is klaar", "Yes, it is finished"),
    "close.done": (
        "{procedure} is klaar. De toegang is gestopt.",
        "{procedure} is finished. Access has stopped.",
    ),
    "status.requested": ("gevraagd", "asked"),
    "status.approved": ("u zei ja", "you said yes"),
    "status.denied": ("u zei nee", "you said no"),
    "status.lapsed": ("niet op tijd beantwoord", "not answered in time"),
    "status.ended": ("gestopt", "stopped"),
    "reason.revoked": ("u heeft het gestopt", "you stopped it"),
    "reason.relinquished": ("de dienst gaf de toegang terug", "the service gave the access back"),
    "reason.procedure-closed": (
        "de behandeling of zaak is klaar",
        "the treatment or case is finished",
    ),
    "reason.expired": ("de einddatum was bereikt", "the end date was reached"),
    "reason.token-reuse": (
        "gestopt voor uw veiligheid: er werd iets dubbel gebruikt",
        "stopped for your safety: something was used twice",
    ),
    "reason.vault-deleted": ("de kluis is weggegooid", "the vault was deleted"),
    "history.requested": (
        "{date}: {service} vroeg om toegang.",
        "{date}: {service} asked for access.",
    ),
    "history.approved": ("{date}: u zei ja.", "{date}: you said yes."),
    "history.denied": ("{date}: u zei nee.", "{date}: you said no."),
    "history.lapsed": (
        "{date}: de vraag is verlopen, u gaf geen antwoord.",
        "{date}: the question expired without an answer.",
    ),
    "history.ended": (
        "{date}: de toegang stopte, want {reason}.",
        "{date}: access stopped: {reason}.",
    ),
    "history.other": ("{date}: {status}", "{date}: {status}"),
    # -- who looked at my data -------------------------------------------------------------------
    "log.title": ("Wie heeft mijn gegevens bekeken?", "Who looked at my data?"),
    "log.intro": (
        "Hier ziet u wat diensten met uw gegevens deden, en wat u zelf besliste. Het nieuwste "
        "staat bovenaan. Ook als een dienst iets wilde maar niet mocht, ziet u dat hier.",
        "Here you see what services did with your data, and what you decided yourself. The "
        "newest is at the top. When a service wanted something but was not allowed, you see "
        "that here too.",
    ),
    "log.filter": ("Kies wat u wilt zien", "Choose what to see"),
    "log.filter.service": ("Dienst", "Service"),
    "log.filter.all_services": ("Alle diensten", "All services"),
    "log.filter.category": ("Onderwerp", "Subject"),
    "log.filter.all_categories": ("Alle onderwerpen", "All subjects"),
    "log.filter.button": ("Laat zien", "Show"),
    "log.empty": (
        "Er staat nog niets in uw logboek. Zodra een dienst iets vraagt of bekijkt, ziet u "
        "het hier.",
        "Your log is still empty. As soon as a service asks for or looks at something, you "
        "see it here.",
    ),
    "log.empty.filtered": (
        "Hier past niets bij. Kies een andere dienst of een ander onderwerp.",
        "Nothing matches. Please choose another service or subject.",
    ),
    "log.check": ("Controleer dit", "Check this"),
    "log.pending": (
        "Dit komt zo in het gecontroleerde logboek. Kijk over een minuut opnieuw.",
        "This will be in the verified log soon. Please look again in a minute.",
    ),
    "log.pages": ("Meer uit uw logboek", "More of your log"),
    "log.older": ("Oudere gebeurtenissen", "Older events"),
    "log.newest": ("Terug naar het nieuwste", "Back to the newest"),
    "proof.ok": ("Dit staat in het gecontroleerde logboek.", "This entry is in the verified log."),
    "proof.ok.why": (
        "Regie heeft het logboek ondertekend. Verandert iemand dit later, of haalt iemand het "
        "weg, dan valt dat op.",
        "Regie signed the log. If anyone changes or removes this later, that will show.",
    ),
    "proof.failed": ("Dit konden we niet bevestigen.", "We could not confirm this."),
    "proof.failed.what": (
        "Het bewijs past niet bij het ondertekende logboek. Dat ligt niet aan u. Meld het bij "
        "Regie, dan zoeken wij het uit.",
        "The proof does not match the signed log. It is not your fault. Please tell Regie, "
        "and we will look into it.",
    ),
    "proof.details": ("Voor wie het precies wil weten", "For the curious"),
    "proof.index": ("Plaats in het logboek", "Position in the log"),
    "proof.position": (
        "regel {number} (technisch: index {index})",
        "entry {number} (technically: index {index})",
    ),
    "proof.size": ("Regels in het logboek", "Entries in the log"),
    "proof.root": ("Vingerafdruk van het logboek", "Fingerprint of the log"),
    "proof.log": ("Naam van het logboek", "Name of the log"),
    # -- connect a service ------------------------------------------------------------------------
    "authorize.bad.title": ("Deze link werkt niet", "This link does not work"),
    "authorize.bad": (
        "Deze link om in te loggen bij een dienst werkt niet (meer). Ga terug naar de website "
        "van de dienst en probeer het opnieuw. Er is niets gedeeld.",
        "This link to sign in with a service does not work (any more). Go back to the "
        "service's website and try again. Nothing was shared.",
    ),
    "authorize.back": (
        "Na uw antwoord gaat u terug naar de website van de dienst.",
        "After you answer, you go back to the service's website.",
    ),
    "sign_up.for_service": (
        "Maak eerst uw kluis. Daarna ziet u wat de dienst vraagt.",
        "First make your vault. Then you will see what the service asks.",
    ),
    "sign_in.for_service": (
        "Log eerst in. Daarna ziet u wat de dienst vraagt.",
        "Please sign in first. Then you will see what the service asks.",
    ),
    "connect.title": ("Een dienst koppelen", "Connect a service"),
    "connect.intro": (
        "Wil een dienst, zoals uw huisarts of school, u iets vragen via Regie? Geef de dienst "
        "dan een code. Daarna kan de dienst u om gegevens vragen. De dienst ziet nog niets: u "
        "beslist per vraag.",
        "Does a service, such as your doctor or school, want to ask you something through "
        "Regie? Then give the service a code. After that, the service can ask you for data. "
        "The service sees nothing yet: you decide for each question.",
    ),
    "connect.button": ("Maak een code", "Make a code"),
    "connect.code": ("Uw code", "Your code"),
    "connect.code.hint": (
        "Geef deze code aan de dienst, bijvoorbeeld aan de balie of door hem in te typen. "
        "De code werkt één keer, tot {time}.",
        "Give this code to the service, for example at the desk or by typing it in. The code "
        "works once, until {time}.",
    ),
    "connect.another": ("Nog een code maken", "Make another code"),
    "act.connect.title": ("Een dienst koppelen voor {name}", "Connect a service for {name}"),
    "act.connect.intro": (
        "Wil een dienst, zoals een school of de huisarts, {name} iets vragen via Regie? Geef "
        "de dienst dan een code. Daarna kan de dienst om gegevens van {name} vragen. De dienst "
        "ziet nog niets: u beslist per vraag.",
        "Does a service, such as a school or the GP, want to ask {name} something through "
        "Regie? Then give the service a code. After that it can ask for {name}'s data. The "
        "service sees nothing yet: you decide on each request.",
    ),
    "act.connect.code": ("De code voor {name}", "The code for {name}"),
    # -- people: mandates and children's vaults -------------------------------------------------
    "people.title": ("Mensen", "People"),
    "people.intro": (
        "Soms regelt iemand anders dingen voor u, zoals een bewindvoerder of iemand uit uw "
        "familie. Of u regelt dingen voor een ander, of voor uw kind. Dat ziet u hier.",
        "Sometimes someone else arranges things for you, such as an administrator or a family "
        "member. Or you arrange things for someone else, or for your child. You see that here.",
    ),
    "people.for_me": ("Wie mag dingen voor mij regelen", "Who may arrange things for me"),
    "people.for_me.none": (
        "Niemand mag nu dingen voor u regelen.",
        "Nobody may arrange things for you now.",
    ),
    "people.i_act_for": ("Voor wie regel ik dingen", "For whom I arrange things"),
    "people.i_act_for.none": (
        "U regelt nu voor niemand iets.",
        "You do not arrange things for anyone now.",
    ),
    "people.children": ("Kluizen van mijn kinderen", "My children's vaults"),
    "people.children.none": (
        "U heeft nog geen kluis voor een kind gemaakt.",
        "You have not made a vault for a child yet.",
    ),
    "people.earlier": ("Eerder", "Earlier"),
    "people.earlier.mine": (
        "{name} mocht dingen voor u regelen",
        "{name} could arrange things for you",
    ),
    "people.earlier.theirs": ("U regelde dingen voor {name}", "You arranged things for {name}"),
    "people.nobody_yet": ("Nog niemand", "Nobody yet"),
    "people.unknown": ("Naam onbekend", "Name unknown"),
    "people.why": ("Waarom", "Why"),
    "people.about": ("Over", "About"),
    "people.may": ("Mag", "May"),
    "people.when": ("Wanneer", "When"),
    "people.status": ("Hoe staat het", "Status"),
    "people.period": ("Van {start} tot en met {end}", "From {start} up to and including {end}"),
    "people.categories.all": ("Alles in de kluis", "Everything in the vault"),
    "people.action.read": ("lezen", "read"),
    "people.action.write": ("aanvullen of wijzigen", "add or change"),
    "people.action.decide-requests": ("beslissen over verzoeken", "decide on requests"),
    "people.action.read.hint": (
        "De gegevens over deze onderwerpen bekijken.",
        "Look at the data on these subjects.",
    ),
    "people.action.write.hint": (
        "Iets toevoegen, veranderen of weggooien bij deze onderwerpen.",
        "Add, change or delete something on these subjects.",
    ),
    "people.action.decide-requests.hint": (
        "Ja of nee zeggen als een dienst om deze gegevens vraagt, en toegang stoppen.",
        "Say yes or no when a service asks for this data, and stop access.",
    ),
    "people.status.offered": (
        "Wacht op de code. De code werkt tot {time}.",
        "Waiting for the code. The code works until {time}.",
    ),
    "people.status.starts": ("Gaat in op {date}", "Starts on {date}"),
    "people.status.active": ("Loopt nu", "Running now"),
    "people.status.lapsed": (
        "Niet gebruikt: de code is verlopen",
        "Not used: the code expired",
    ),
    "people.status.ended": ("Gestopt: {reason}", "Stopped: {reason}"),
    "people.reason.revoked.mine": ("u heeft het gestopt", "you stopped it"),
    "people.reason.revoked.theirs": ("{name} heeft het gestopt", "{name} stopped it"),
    "people.reason.given-up.mine": ("u bent ermee gestopt", "you stopped doing it"),
    "people.reason.given-up.theirs": ("{name} is ermee gestopt", "{name} stopped doing it"),
    "people.reason.expired": ("de einddatum was bereikt", "the end date was reached"),
    "people.reason.vault-deleted": (
        "de kluis van {name} is weggegooid",
        "the vault of {name} was deleted",
    ),
    "people.reason.other": ("het is voorbij", "it is over"),
    "people.step.offered.mine": (
        "{date}: u maakte de machtiging en de code.",
        "{date}: you made the authorisation and the code.",
    ),
    "people.step.offered.theirs": (
        "{date}: {name} maakte de machtiging.",
        "{date}: {name} made the authorisation.",
    ),
    "people.step.active.mine": (
        "{date}: u vulde de code in. De machtiging ging lopen.",
        "{date}: you entered the code. The authorisation started.",
    ),
    "people.step.active.theirs": (
        "{date}: {name} vulde de code in. De machtiging ging lopen.",
        "{date}: {name} entered the code. The authorisation started.",
    ),
    "people.step.child": (
        "{date}: u maakte de kluis van {name}.",
        "{date}: you made the vault of {name}.",
    ),
    "people.step.lapsed": (
        "{date}: de code is verlopen. Niemand heeft hem gebruikt.",
        "{date}: the code expired. Nobody used it.",
    ),
    "people.step.ended": (
        "{date}: de machtiging stopte, want {reason}.",
        "{date}: the authorisation stopped: {reason}.",
    ),
    "people.details": ("Meer hierover", "More about this"),
    "people.back": ("Terug naar Mensen", "Back to People"),
    "people.detail.mine": ("{name} mag dingen voor u regelen", "{name} may arrange things for you"),
    "people.detail.theirs": ("U regelt dingen voor {name}", "You arrange things for {name}"),
    "people.detail.offered": (
        "Een machtiging die wacht op de code",
        "An authorisation waiting for its code",
    ),
    "people.detail.lapsed": ("Een code die niet is gebruikt", "A code that was not used"),
    "people.detail.child": ("De kluis van {name}", "The vault of {name}"),
    # offering
    "people.offer.open": ("Iemand een machtiging geven", "Give someone an authorisation"),
    "people.offer.consequence": (
        "Wilt u dat iemand dingen voor u regelt? Dan geeft u die persoon een machtiging. U "
        "kiest zelf waarover en tot wanneer. U kunt het altijd stoppen.",
        "Do you want someone to arrange things for you? Then you give that person an "
        "authorisation. You choose what about and until when. You can always stop it.",
    ),
    "people.offer.title": ("Iemand een machtiging geven", "Give someone an authorisation"),
    "people.child.helpers": (
        "Anderen die iets mogen regelen voor {name}",
        "Others who may arrange things for {name}",
    ),
    "people.child.helpers.none": (
        "Niemand anders mag iets regelen voor {name}.",
        "Nobody else may arrange anything for {name}.",
    ),
    "people.offer.title.child": (
        "Iemand iets laten regelen voor {name}",
        "Let someone arrange things for {name}",
    ),
    "people.offer.intro.child": (
        "Met een machtiging mag iemand anders, bijvoorbeeld een opa of oma, dingen regelen in "
        "de kluis van {name}. Die persoon heeft zelf ook een kluis in Regie nodig. De "
        "machtiging kan niet langer lopen dan uw eigen toegang tot de kluis van {name}.",
        "With an authorisation someone else, a grandparent for example, may arrange things in "
        "the vault of {name}. That person needs a vault in Regie of their own. The "
        "authorisation cannot last longer than your own access to the vault of {name}.",
    ),
    "people.offer.bad_date.child": (
        "Deze datum kan niet. Kies een dag na vandaag, hoogstens tot en met {date}: zo lang "
        "heeft u zelf toegang tot de kluis van {name}.",
        "This date is not possible. Please choose a day after today, at most up to and "
        "including {date}: that is how long you have access to the vault of {name} yourself.",
    ),
    "people.offer.intro": (
        "Met een machtiging mag iemand anders dingen voor u regelen in uw kluis. Die persoon "
        "heeft zelf ook een kluis in Regie nodig.",
        "With an authorisation someone else may arrange things for you in your vault. That "
        "person needs a vault in Regie too.",
    ),
    "people.offer.categories": ("Over welke onderwerpen?", "About which subjects?"),
    "people.offer.categories.hint": (
        "Kies alleen wat nodig is. Bijvoorbeeld Schulden en Inkomen voor een bewindvoerder.",
        "Choose only what is needed. For example Debts and Income for an administrator.",
    ),
    "people.offer.actions": ("Wat mag die persoon doen?", "What may that person do?"),
    "people.offer.actions.hint": ("Kies één of meer.", "Choose one or more."),
    "people.offer.start": ("Vanaf wanneer?", "From when?"),
    "people.offer.start.hint": (
        "Vandaag, of een latere dag. Hoogstens een jaar vooruit.",
        "Today, or a later day. At most a year ahead.",
    ),
    "people.offer.bad_start": (
        "Deze begindatum kan niet. Kies vandaag of een latere dag, hoogstens een jaar vooruit.",
        "This start date is not possible. Please choose today or a later day, at most a year "
        "ahead.",
    ),
    "people.offer.until": ("Tot en met wanneer?", "Up to and including when?"),
    "people.offer.until.hint": (
        "Daarna stopt de machtiging vanzelf. Dat kan hoogstens 5 jaar vooruit.",
        "After that the authorisation stops by itself. At most 5 years ahead.",
    ),
    "people.offer.label": ("Waarom?", "Why?"),
    "people.offer.label.hint": (
        "In uw eigen woorden, bijvoorbeeld: beschermingsbewind. De ander ziet dit ook.",
        "In your own words, for example: protective administration. The other person sees it too.",
    ),
    "people.offer.button.consequence": (
        "Als u op de knop drukt, maakt Regie een code. Pas als de ander die code invult, mag "
        "die persoon iets voor u regelen.",
        "When you press the button, Regie makes a code. Only when the other person enters that "
        "code may they arrange things for you.",
    ),
    "people.offer.button": ("Maak de code", "Make the code"),
    "people.offer.no_categories": (
        "Kies minstens één onderwerp.",
        "Please choose at least one subject.",
    ),
    "people.offer.no_actions": (
        "Kies minstens één ding dat de ander mag doen.",
        "Please choose at least one thing the other person may do.",
    ),
    "people.offer.bad_date": (
        "Deze datum kan niet. Kies een dag na vandaag, hoogstens 5 jaar vooruit.",
        "This date is not possible. Please choose a day after today, at most 5 years ahead.",
    ),
    "people.offer.no_label": (
        "Schrijf kort op waarom, zodat u het later nog weet.",
        "Please write briefly why, so you still know later.",
    ),
    # the code, shown once
    "people.code.title": ("De machtiging is klaar", "The authorisation is ready"),
    "people.code.heading": ("De code", "The code"),
    "people.code.valid": (
        "Deze code werkt {minutes} minuten, tot {time}.",
        "This code works for {minutes} minutes, until {time}.",
    ),
    "people.code.once": (
        "De code werkt één keer. U ziet hem alleen nu: schrijf hem op of houd deze pagina open.",
        "The code works once. You only see it now: write it down or keep this page open.",
    ),
    "people.code.how": ("Zo geeft u de code", "How to give the code"),
    "people.code.how.1": (
        "Geef de code alleen aan de persoon die dingen voor u mag regelen. Zeg hem hardop of "
        "geef hem op papier.",
        "Give the code only to the person who may arrange things for you. Say it out loud or "
        "give it on paper.",
    ),
    "people.code.how.2": (
        "Die persoon logt in op de eigen kluis, kiest Mensen en dan 'Ik heb een code gekregen'.",
        "That person signs in to their own vault, chooses People and then 'I received a code'.",
    ),
    "people.code.how.3": (
        "Daarna ziet u hier de naam van die persoon, en dat de machtiging loopt.",
        "After that you see that person's name here, and that the authorisation is running.",
    ),
    "people.code.what": ("Wat de machtiging toestaat", "What the authorisation allows"),
    "people.code.late": (
        "Was het te laat? Dat geeft niets. Maak dan een nieuwe machtiging.",
        "Was it too late? That is fine. Then make a new authorisation.",
    ),
    # accepting
    "people.accept.open": ("Ik heb een code gekregen", "I received a code"),
    "people.accept.consequence": (
        "Heeft iemand u een code gegeven, zodat u dingen voor die persoon regelt? Vul die code "
        "dan hier in.",
        "Did someone give you a code, so you arrange things for them? Then enter the code here.",
    ),
    "people.accept.title": ("Een code invullen", "Enter a code"),
    "people.accept.intro": (
        "Iemand heeft u een code gegeven, zodat u dingen voor die persoon kunt regelen. Vul de "
        "code hieronder in.",
        "Someone gave you a code, so you can arrange things for them. Enter the code below.",
    ),
    "people.accept.code": ("De code", "The code"),
    "people.accept.code.hint": (
        "Tien letters en cijfers, bijvoorbeeld K7QF2‑M9D4X. Hoofdletters en streepje hoeven niet.",
        "Ten letters and digits, for example K7QF2‑M9D4X. Capitals and the dash are not needed.",
    ),
    "people.accept.button.consequence": (
        "Als u de code invult, mag u dingen regelen voor de persoon die hem gaf. U ziet daarna "
        "precies wat u mag, en tot wanneer.",
        "When you enter the code, you may arrange things for the person who gave it. You then "
        "see exactly what you may do, and until when.",
    ),
    "people.accept.button": ("Vul de code in", "Enter the code"),
    "people.accept.empty": ("Vul de code in die u kreeg.", "Please enter the code you received."),
    "people.accept.invalid": (
        "Deze code werkt niet (meer). Een code werkt één keer en 15 minuten lang. Kijk de code "
        "nog eens na, of vraag om een nieuwe.",
        "This code does not work (any more). A code works once, for 15 minutes. Please check "
        "the code again, or ask for a new one.",
    ),
    "people.accept.own": (
        "Dit is een code die u zelf heeft gemaakt. Geef hem aan de persoon die dingen voor u "
        "mag regelen. Die vult hem in op de eigen kluis.",
        "This is a code you made yourself. Give it to the person who may arrange things for "
        "you. They enter it in their own vault.",
    ),
    "people.accept.done": (
        "Gelukt. U mag nu dingen regelen voor {name}.",
        "Done. You may now arrange things for {name}.",
    ),
    # stopping
    "people.stop": ("Stoppen", "Stop"),
    "people.stop.theirs": ("Ik stop hiermee", "I stop doing this"),
    "people.stop.title.mine": (
        "Stoppen met de machtiging van {name}?",
        "Stop the authorisation of {name}?",
    ),
    "people.stop.title.offer": ("Deze machtiging stoppen?", "Stop this authorisation?"),
    "people.stop.title.theirs": (
        "Stoppen met regelen voor {name}?",
        "Stop arranging things for {name}?",
    ),
    "people.stop.consequence.mine": (
        "Als u stopt, kan {name} meteen niets meer voor u regelen. Wat {name} al deed, blijft "
        "staan. Wilt u later weer hulp van {name}? Maak dan een nieuwe machtiging.",
        "If you stop, {name} immediately can no longer arrange anything for you. What {name} "
        "did already stays. Do you want help from {name} again later? Then make a new "
        "authorisation.",
    ),
    "people.stop.consequence.offer": (
        "Als u stopt, werkt de code niet meer. Niemand kan hem dan nog gebruiken.",
        "If you stop, the code no longer works. Nobody can use it any more.",
    ),
    "people.stop.consequence.theirs": (
        "Als u stopt, kunt u meteen niets meer voor {name} regelen. {name} ziet dat u gestopt "
        "bent. Wilt u later weer helpen? Dan moet {name} u een nieuwe code geven.",
        "If you stop, you immediately can no longer arrange anything for {name}. {name} sees "
        "that you stopped. Do you want to help again later? Then {name} has to give you a new "
        "code.",
    ),
    "people.stop.button.mine": ("Ja, stop de machtiging", "Yes, stop the authorisation"),
    "people.stop.button.theirs": ("Ja, ik stop", "Yes, I stop"),
    "people.stop.done.mine": (
        "De machtiging is gestopt. {name} kan niets meer voor u regelen.",
        "The authorisation has stopped. {name} can no longer arrange anything for you.",
    ),
    "people.stop.done.offer": (
        "De machtiging is gestopt. De code werkt niet meer.",
        "The authorisation has stopped. The code no longer works.",
    ),
    "people.stop.done.theirs": (
        "U bent gestopt. U regelt niets meer voor {name}.",
        "You have stopped. You no longer arrange anything for {name}.",
    ),
    "people.stop.already": (
        "Deze machtiging loopt niet (meer). Er hoeft niets te gebeuren.",
        "This authorisation is not running (any more). Nothing needs to be done.",
    ),
    # a child's vault
    "people.child.open": ("Een kluis maken voor mijn kind", "Make a vault for my child"),
    "people.child.consequence": (
        "Voor uw kind kunt u een eigen kluis maken. U regelt die kluis tot uw kind 18 is.",
        "You can make a vault of its own for your child. You look after that vault until your "
        "child is 18.",
    ),
    "people.child.title": ("Een kluis maken voor uw kind", "Make a vault for your child"),
    "people.child.intro": (
        "De gegevens van uw kind staan dan in een eigen kluis, apart van die van u. Uw kind "
        "logt zelf niet in: u regelt alles, tot uw kind 18 is.",
        "Your child's data is then in a vault of its own, apart from yours. Your child does not "
        "sign in: you arrange everything, until your child is 18.",
    ),
    "people.child.name": ("Naam van uw kind", "Your child's name"),
    "people.child.name.hint": (
        "Zoals u uw kind noemt, bijvoorbeeld alleen de voornaam.",
        "What you call your child, for example just the first name.",
    ),
    "people.child.button.consequence": (
        "Als u op de knop drukt, maakt Regie de kluis. U ziet hem daarna bij Mensen.",
        "When you press the button, Regie makes the vault. You then see it under People.",
    ),
    "people.child.button": ("Maak de kluis", "Make the vault"),
    "people.child.no_name": ("Vul de naam van uw kind in.", "Please fill in your child's name."),
    "people.child.done": ("De kluis van {name} is gemaakt.", "The vault of {name} has been made."),
    "people.child.since": ("Gemaakt op {date}", "Made on {date}"),
    "people.child.until": (
        "U kunt tot en met {date} in de kluis van {name}. Langer kan niet: dan is {name} 18 "
        "jaar of ouder.",
        "You can use the vault of {name} up to and including {date}. It cannot be longer: "
        "by then {name} is 18 or older.",
    ),
    "people.back.child": ("Terug naar de kluis van {name}", "Back to the vault of {name}"),
    "people.accept.done.parent": (
        "Gelukt. U kunt nu in de kluis van {name}, net als de andere ouder.",
        "Done. You can now use the vault of {name}, as the other parent can.",
    ),
    # a second parent
    "people.parents": ("Andere ouders van {name}", "Other parents of {name}"),
    "people.parents.none": (
        "Alleen u kunt nu in de kluis van {name}.",
        "Only you can use the vault of {name} now.",
    ),
    "people.parents.one": ("{name}: {status}", "{name}: {status}"),
    "people.parent.open": ("Een andere ouder toegang geven", "Give another parent access"),
    "people.parent.stop.open": ("Toegang van {name} stoppen", "Stop the access of {name}"),
    "people.parent.withdraw.open": ("Dit aanbod stoppen", "Stop this offer"),
    "people.parent.withdraw.title": (
        "Een aanbod voor de kluis van {child} stoppen",
        "Stop an offer for the vault of {child}",
    ),
    "people.parent.withdraw.button": ("Ja, stop het aanbod", "Yes, stop the offer"),
    "people.parent.stop.title": (
        "De toegang van {other} tot de kluis van {child} stoppen",
        "Stop the access of {other} to the vault of {child}",
    ),
    "people.parent.stop.consequence": (
        "Als u stopt, kan {other} niet meer in de kluis van {child}. Wat {other} al deed, blijft "
        "in het logboek van {child} staan. U blijft zelf toegang houden. Later kunt u {other} "
        "opnieuw toegang geven.",
        "If you stop, {other} can no longer use the vault of {child}. What {other} already did "
        "stays in the log of {child}. You keep your own access. You can give {other} access "
        "again later.",
    ),
    "people.parent.stop.button": (
        "Ja, stop de toegang van {other}",
        "Yes, stop the access of {other}",
    ),
    "people.parent.stop.done": (
        "{name} kan niet meer in de kluis van {child}.",
        "{name} can no longer use the vault of {child}.",
    ),
    "people.parent.title": (
        "Een andere ouder toegang geven tot de kluis van {name}",
        "Give another parent access to the vault of {name}",
    ),
    "people.parent.intro": (
        "De andere ouder kan dan alles wat u kunt in de kluis van {name}:",
        "The other parent can then do everything you can do in the vault of {name}:",
    ),
    "people.parent.may.data": (
        "alle gegevens van {name} bekijken, aanvullen en wijzigen;",
        "see, add to and change all the data of {name};",
    ),
    "people.parent.may.requests": (
        "beslissen over verzoeken van diensten, zoals de school;",
        "decide on requests from services, such as the school;",
    ),
    "people.parent.may.people": (
        "anderen dingen laten regelen voor {name}, en dat weer stoppen (ook uw toegang);",
        "let others arrange things for {name}, and stop that again (your access too);",
    ),
    "people.parent.may.delete": (
        "de kluis van {name} weggooien.",
        "delete the vault of {name}.",
    ),
    "people.parent.until": (
        "Dat kan tot en met {date}, net als bij u.",
        "That works up to and including {date}, as it does for you.",
    ),
    "people.parent.only": (
        "Geef dit alleen aan de andere ouder van {name}, niet aan iemand anders.",
        "Give this only to the other parent of {name}, not to anyone else.",
    ),
    "people.parent.button.consequence": (
        "Als u op de knop drukt, maakt Regie een code. De andere ouder vult die code in. De "
        "code werkt één keer, 15 minuten lang.",
        "When you press the button, Regie makes a code. The other parent enters that code. "
        "The code works once, for 15 minutes.",
    ),
    "people.parent.code.how.1": (
        "Geef de code alleen aan de andere ouder van {name}. Zeg hem hardop of geef hem op papier.",
        "Give the code only to the other parent of {name}. Say it out loud or give it on paper.",
    ),
    "people.parent.code.how.3": (
        "Daarna staat de kluis van {name} ook bij die ouder, onder 'Kluizen van mijn "
        "kinderen'. U ziet die ouder bij de kluis van {name}.",
        "After that the vault of {name} is also listed for that parent, under 'My "
        "children's vaults'. You see that parent with the vault of {name}.",
    ),
    "people.step.offered.parent": (
        "{date}: een ouder van {name} gaf u toegang, met een code.",
        "{date}: a parent of {name} gave you access, with a code.",
    ),
    # deleting a child's vault
    "people.child.delete.title": ("De kluis van {name} weggooien", "Delete the vault of {name}"),
    "people.child.delete.open": (
        "Gooi de kluis van {name} weg",
        "Delete the vault of {name}",
    ),
    "people.child.delete.short": (
        "Dan zijn alle gegevens van {name} voorgoed weg. U bevestigt dat eerst met uw sleutel.",
        "Then all the data of {name} is gone for good. You confirm this with your key first.",
    ),
    "people.child.delete.consequence": (
        "Als u de kluis van {name} weggooit, vernietigt Regie het geheime slot waarmee de "
        "gegevens van {name} versleuteld zijn. Daarna kan niemand ze meer lezen, ook wij "
        "niet. Alle toegang tot de gegevens van {name} stopt meteen en de diensten horen dat.",
        "If you delete the vault of {name}, Regie destroys the secret lock the data of {name} "
        "is encrypted with. After that nobody can read it any more, not even us. All access "
        "to the data of {name} stops at once and the services are told.",
    ),
    "people.child.delete.others": (
        "Ook een andere ouder, of iemand anders die dingen voor {name} mocht regelen, kan "
        "dan niet meer in de kluis. Uw eigen kluis blijft zoals hij is.",
        "Another parent, or anyone else who could arrange things for {name}, can then no "
        "longer use the vault either. Your own vault stays as it is.",
    ),
    "people.child.delete.keep": (
        "Wilt u iets van {name} houden? Bewaar het dan eerst. Alles in één keer downloaden "
        "kan nog niet voor de kluis van een kind.",
        "Do you want to keep something of {name}? Save it first. Downloading everything at "
        "once is not possible yet for a child's vault.",
    ),
    "people.child.deleted": (
        "De kluis van {name} is weggegooid. De gegevens zijn niet meer te lezen en alle "
        "toegang is gestopt.",
        "The vault of {name} has been deleted. The data can no longer be read and all access "
        "has stopped.",
    ),
    # -- account, sessions, passkeys -------------------------------------------------------------
    "account.title": ("Mijn account", "My account"),
    "account.sessions": ("Waar bent u ingelogd", "Where you are signed in"),
    "account.sessions.intro": (
        "Ziet u iets wat u niet kent? Log daar dan uit. Of log overal uit.",
        "Do you see something you do not recognise? Sign it out, or sign out everywhere.",
    ),
    "account.session.this": ("Dit toestel, nu", "This device, now"),
    "account.session.other": ("Een ander toestel of venster", "Another device or window"),
    "account.session.since": ("Ingelogd op {date}", "Signed in on {date}"),
    "account.session.last": ("Laatst gebruikt {date}", "Last used {date}"),
    "account.session.by_code": ("met een herstelcode", "with a recovery code"),
    "account.session.by_key": ("met een sleutel", "with a key"),
    "account.session.end": ("Log dit uit", "Sign this out"),
    "account.session.ended": ("Dat toestel is uitgelogd.", "That device is signed out."),
    "account.everywhere": ("Overal uitloggen", "Sign out everywhere"),
    "account.everywhere.consequence": (
        "Als u overal uitlogt, bent u op al uw toestellen uitgelogd, ook hier.",
        "If you sign out everywhere, you are signed out on all your devices, here too.",
    ),
    "account.keys": ("Uw sleutels", "Your keys"),
    "account.keys.intro": (
        "Met een sleutel logt u in. Heeft u een tweede toestel? Maak daar ook een sleutel. "
        "Dan komt u altijd in uw kluis.",
        "You sign in with a key. Do you have a second device? Make a key there too, so you "
        "can always get into your vault.",
    ),
    "account.key.made": ("Gemaakt op {date}", "Made on {date}"),
    "account.key.used": ("laatst gebruikt {date}", "last used {date}"),
    "account.key.add": ("Nog een sleutel maken", "Make another key"),
    "account.key.added": ("De nieuwe sleutel is klaar.", "The new key is ready."),
    "account.codes": ("Herstelcodes", "Recovery codes"),
    "account.codes.left": (
        "U heeft nog {count} herstelcodes over.",
        "You have {count} recovery codes left.",
    ),
    "account.codes.new": ("Maak nieuwe herstelcodes", "Make new recovery codes"),
    "account.codes.new.consequence": (
        "De oude codes werken dan niet meer. U bevestigt dit eerst met uw sleutel.",
        "The old codes then stop working. You confirm this with your key first.",
    ),
    "account.vault": ("Uw kluis", "Your vault"),
    "account.export": ("Al mijn gegevens downloaden", "Download all my data"),
    "account.delete": ("Mijn kluis weggooien", "Delete my vault"),
    "signed_out.title": ("U bent uitgelogd", "You are signed out"),
    "signed_out.text": ("Tot ziens.", "Goodbye."),
    "signed_out.everywhere": (
        "U bent op al uw toestellen uitgelogd.",
        "You are signed out on all your devices.",
    ),
    "confirm.button": ("Bevestig met mijn sleutel", "Confirm with my key"),
    "confirm.needed": (
        "Bevestig dit eerst met uw sleutel. Zo weten we zeker dat u het bent.",
        "Please confirm this with your key first, so we know it is really you.",
    ),
    "confirm.failed": (
        "Het bevestigen met uw sleutel lukte niet. Er is niets veranderd. Probeer het opnieuw.",
        "Confirming with your key did not work. Nothing was changed. Please try again.",
    ),
    # -- export and delete ---------------------------------------------------------------------
    "export.title": ("Al mijn gegevens downloaden", "Download all my data"),
    "export.intro": (
        "U krijgt één zip-bestand met alles uit uw kluis: alle stukken, alle versies en alle "
        "bestanden. Ook staat erin wie u toegang gaf en wat daarna gebeurde, en uw logboek: "
        "wie wanneer uw gegevens bekeek. Bewaar het op een veilige plek: het is niet "
        "versleuteld.",
        "You get one zip file with everything from your vault: every item, every version and "
        "every file. It also holds who you gave access to and what happened after, and your "
        "log: who looked at your data and when. Keep it somewhere safe: it is not encrypted.",
    ),
    "export.button": ("Download mijn gegevens", "Download my data"),
    "delete.title": ("Mijn kluis weggooien", "Delete my vault"),
    "delete.warning": (
        "Let op: dit kunt u niet terugdraaien.",
        "Please note: you cannot undo this.",
    ),
    "delete.consequence": (
        "Als u uw kluis weggooit, vernietigt Regie het geheime slot waarmee uw gegevens "
        "versleuteld zijn. Daarna kan niemand ze meer lezen, ook wij niet. Alle toegang stopt "
        "meteen en de diensten horen dat. Uw sleutels en herstelcodes werken niet meer.",
        "If you delete your vault, Regie destroys the secret lock your data is encrypted "
        "with. After that nobody can read it any more, not even us. All access stops at once "
        "and the services are told. Your keys and recovery codes stop working.",
    ),
    "delete.export_first": (
        "Wilt u uw gegevens houden? Download ze dan eerst.",
        "Do you want to keep your data? Download it first.",
    ),
    "delete.button": ("Bevestig met mijn sleutel en gooi weg", "Confirm with my key and delete"),
    "delete.children_first": (
        "Uw kluis is niet weggegooid. U bent de enige ouder die nog in de kluis van uw kind "
        "kan. Gooi eerst de kluis van uw kind weg, of geef een andere ouder toegang. Dat "
        "doet u bij Mensen, bij de kluis van uw kind.",
        "Your vault was not deleted. You are the only parent who can still use the vault of "
        "your child. First delete the vault of your child, or give another parent access. "
        "You do that under People, with the vault of your child.",
    ),
    "deleted.title": ("Uw kluis is weggegooid", "Your vault was deleted"),
    "deleted.text": (
        "Uw gegevens zijn niet meer te lezen. Alle toegang is gestopt. U kunt altijd een nieuwe "
        "kluis maken.",
        "Your data can no longer be read. All access has stopped. You can always make a new vault.",
    ),
    # -- auditors (clients/app/auditor.py): professionals, plain but precise ----------------
    "auditor.app.name": ("Regie voor auditors", "Regie for auditors"),
    "auditor.area": ("auditors", "auditors"),
    "auditor.footer": (
        "U ziet alleen metagegevens van het logboek: een bewoner als pseudoniem, een gegeven "
        "als id, nooit de inhoud. Elke zoekvraag en export wordt zelf gelogd.",
        "You see the log's metadata only: a resident as a pseudonym, a record as an id, "
        "never its contents. Every query and export is itself logged.",
    ),
    "auditor.nav.events": ("Logboek", "Log"),
    "auditor.nav.checkpoint": ("Controlepunt", "Checkpoint"),
    "auditor.nav.export": ("Exporteren", "Export"),
    "auditor.back": ("Terug naar het logboek", "Back to the log"),
    "auditor.sign_in.title": ("Inloggen als auditor", "Sign in as an auditor"),
    "auditor.sign_in.intro": (
        "Log in met de passkey die u maakte toen u zich aanmeldde. Uw toestel vraagt om uw "
        "vingerafdruk, gezicht of pincode.",
        "Sign in with the passkey you made when you enrolled. Your device asks for your "
        "fingerprint, face or PIN.",
    ),
    "auditor.sign_in.button": ("Inloggen met mijn passkey", "Sign in with my passkey"),
    "auditor.sign_in.new": ("Nog geen passkey?", "No passkey yet?"),
    "auditor.sign_in.new.text": (
        "Met de aanmeldcode die de beheerder u gaf, maakt u er een.",
        "Make one with the enrolment code the operator gave you.",
    ),
    "auditor.sign_in.enrol": ("Aanmelden met een code", "Enrol with a code"),
    "auditor.sign_in.unknown": (
        "Deze passkey hoort niet bij een auditor. Is uw aanstelling beëindigd, of heeft u "
        "zich nog niet aangemeld? Vraag het de beheerder.",
        "This passkey does not belong to an auditor. Was your appointment ended, or have you "
        "not enrolled yet? Ask the operator.",
    ),
    "auditor.sign_in.expired": (
        "U bent uitgelogd: de sessie is verlopen of beëindigd. Log opnieuw in.",
        "You were signed out: the session expired or was ended. Please sign in again.",
    ),
    "auditor.enrol.title": ("Aanmelden als auditor", "Enrol as an auditor"),
    "auditor.enrol.intro": (
        "De beheerder heeft u aangesteld en u een aanmeldcode gegeven. De code werkt één keer "
        "en is 24 uur geldig. Hiermee maakt u de passkey waarmee u voortaan inlogt.",
        "The operator appointed you and gave you an enrolment code. The code works once and "
        "is valid for 24 hours. With it you make the passkey you sign in with from now on.",
    ),
    "auditor.enrol.code": ("Aanmeldcode", "Enrolment code"),
    "auditor.enrol.code.hint": (
        "Bijvoorbeeld KB34-T9B6-ZA07-N0TA-2PNP. Hoofdletters en streepjes maken niet uit.",
        "For example KB34-T9B6-ZA07-N0TA-2PNP. Capitals and dashes do not matter.",
    ),
    "auditor.enrol.button": ("Maak mijn passkey", "Create my passkey"),
    "auditor.enrol.have": ("Al aangemeld?", "Enrolled already?"),
    "auditor.enrol.missing": ("Vul de aanmeldcode in.", "Please enter the enrolment code."),
    "auditor.enrol.invalid": (
        "Deze aanmeldcode is niet (meer) geldig. Een code werkt één keer en 24 uur lang. "
        "Vraag de beheerder zo nodig om een nieuwe.",
        "This enrolment code is not valid (or no longer). A code works once, for 24 hours. "
        "Ask the operator for a new one if needed.",
    ),
    "auditor.signed_out.title": ("U bent uitgelogd", "You are signed out"),
    "auditor.signed_out.text": (
        "Uw sessie is beëindigd, ook bij de vault.",
        "Your session has ended, at the vault too.",
    ),
    "auditor.events.title": ("Logboek", "The log"),
    "auditor.events.intro": (
        "Alle regels van het verifieerbare logboek, oudste eerst. Open een regel om al zijn "
        "velden te zien en zijn bewijs te laten controleren.",
        "Every entry of the verifiable log, oldest first. Open an entry to see all its "
        "members and have its proof checked.",
    ),
    "auditor.events.read_in": (
        "Gelezen in het controlepunt van {size} regels. Volgende pagina's lezen in hetzelfde.",
        "Read in the checkpoint of {size} entries. Further pages read in the same one.",
    ),
    "auditor.events.none": (
        "De vault heeft nog geen controlepunt ondertekend, dus er zijn nog geen regels te zien.",
        "The vault has not signed a checkpoint yet, so there are no entries to see yet.",
    ),
    "auditor.events.empty": (
        "Het controlepunt bevat nog geen regels.",
        "The checkpoint holds no entries yet.",
    ),
    "auditor.events.empty.filtered": (
        "Geen regels die aan alle filters voldoen.",
        "No entries match all the filters.",
    ),
    "auditor.events.pages": ("Bladeren", "Pages"),
    "auditor.events.next": ("Volgende regels", "Next entries"),
    "auditor.events.first": ("Terug naar de eerste regels", "Back to the first entries"),
    "auditor.events.export": (
        "Exporteer wat deze filters selecteren",
        "Export what these filters select",
    ),
    "auditor.only_this": ("Filter hierop", "Filter on this"),
    "auditor.filter.label": ("Filters", "Filters"),
    "auditor.filter.since": ("Vanaf (Nederlandse tijd)", "From (Dutch time)"),
    "auditor.filter.until": (
        "Tot (Nederlandse tijd, niet meegerekend)",
        "Until (Dutch time, excluded)",
    ),
    "auditor.filter.service": ("Dienst (id)", "Service (id)"),
    "auditor.filter.purpose": ("Doel (DPV-URI)", "Purpose (DPV URI)"),
    "auditor.filter.outcome": ("Uitkomst", "Outcome"),
    "auditor.filter.any_outcome": ("Alle uitkomsten", "Any outcome"),
    "auditor.filter.subject": ("Bewoner (pseudoniem)", "Resident (pseudonym)"),
    "auditor.filter.actor": ("Gedaan door", "Done by"),
    "auditor.filter.any_actor": ("Iedereen", "Anyone"),
    "auditor.actor.resident": ("bewoner", "resident"),
    "auditor.actor.representative": ("vertegenwoordiger", "representative"),
    "auditor.actor.service": ("dienst", "service"),
    "auditor.actor.auditor": ("auditor", "auditor"),
    "auditor.actor.operator": ("beheerder", "operator"),
    "auditor.actor.system": ("de vault zelf", "the vault itself"),
    "auditor.filter.hint": (
        "Alle ingevulde filters moeten kloppen. Een tijd geldt voor het begin van de "
        "gebeurtenis; de id's en het pseudoniem precies zoals het logboek ze toont.",
        "Every filter you fill in must hold. A time applies to the event's start; ids and "
        "the pseudonym exactly as the log shows them.",
    ),
    "auditor.filter.button": ("Zoek", "Search"),
    "auditor.filter.clear": ("Wis de filters", "Clear the filters"),
    "auditor.filter.fix": (
        "Een of meer filters kloppen niet. Zie de uitleg bij het veld.",
        "One or more filters are not valid. See the note at the field.",
    ),
    "auditor.filter.refused": (
        "De vault weigerde deze filters. Controleer ze en probeer het opnieuw.",
        "The vault refused these filters. Please check them and try again.",
    ),
    "auditor.filter.bad_time": (
        "Geef datum en tijd, bijvoorbeeld 2026-12-01T09:00.",
        "Give a date and time, for example 2026-12-01T09:00.",
    ),
    "auditor.filter.order": (
        "'Tot' moet na 'vanaf' liggen.",
        "'Until' must be after 'from'.",
    ),
    "auditor.filter.bad_service": (
        "Een dienst-id is een UUID, zoals het logboek het toont.",
        "A service id is a UUID, as the log shows it.",
    ),
    "auditor.filter.bad_purpose": (
        "Een doel is een URI zonder spaties van hoogstens 200 tekens.",
        "A purpose is a URI without spaces, at most 200 characters.",
    ),
    "auditor.filter.bad_outcome": (
        "Kies permit, deny of done.",
        "Choose permit, deny or done.",
    ),
    "auditor.filter.bad_actor": (
        "Kies een van de namen in de lijst.",
        "Choose one of the names in the list.",
    ),
    "auditor.filter.bad_subject": (
        "Een pseudoniem is 64 tekens 0-9 en a-f, zoals het logboek het toont.",
        "A pseudonym is 64 characters 0-9 and a-f, as the log shows it.",
    ),
    "auditor.outcome.permit": ("toegestaan", "allowed"),
    "auditor.outcome.deny": ("geweigerd", "refused"),
    "auditor.outcome.done": ("uitgevoerd", "done"),
    "auditor.field.index": ("Index", "Index"),
    "auditor.field.actor": ("Door", "Actor"),
    "auditor.field.service_id": ("Dienst", "Service"),
    "auditor.field.datatype": ("Gegevenssoort", "Data type"),
    "auditor.field.action": ("Handeling", "Action"),
    "auditor.field.purpose": ("Doel", "Purpose"),
    "auditor.field.reason": ("Reden", "Reason"),
    "auditor.field.subject": ("Bewoner", "Resident"),
    "auditor.event.title": ("Regel {index}", "Entry {index}"),
    "auditor.event.members": (
        "Alle velden, precies zoals gelogd",
        "All members, exactly as logged",
    ),
    "auditor.proof.ok": (
        "Bewezen: deze regel staat op index {index} in het ondertekende logboek van {size} "
        "regels, en is sinds het loggen niet veranderd.",
        "Proven: this entry is at index {index} of the signed log of {size} entries, and has "
        "not changed since it was logged.",
    ),
    "auditor.proof.how": (
        "Deze pagina controleerde zelf: de handtekening van het controlepunt met de sleutel "
        "van het logboek, de hash van deze regel, en het inclusiebewijs (RFC 9162) tot de "
        "root van het controlepunt.",
        "This page checked for itself: the checkpoint's signature under the log's key, this "
        "entry's hash, and the inclusion proof (RFC 9162) up to the checkpoint's root.",
    ),
    "auditor.proof.failed": (
        "Niet bewezen: het bewijs klopt niet bij deze regel of dit controlepunt.",
        "Not proven: the proof does not fit this entry or this checkpoint.",
    ),
    "auditor.proof.problem": ("Wat niet klopte:", "What did not match:"),
    "auditor.proof.title": ("Het bewijs", "The proof"),
    "auditor.proof.leaf": ("Leaf-hash (SHA-256, base64)", "Leaf hash (SHA-256, base64)"),
    "auditor.proof.size": ("Grootte (regels)", "Size (entries)"),
    "auditor.proof.root": ("Root-hash (base64)", "Root hash (base64)"),
    "auditor.proof.hashes": (
        "Inclusiebewijs: {count} hashes, van onder naar boven",
        "Inclusion proof: {count} hashes, bottom up",
    ),
    "auditor.proof.checkpoint": (
        "Ondertekend controlepunt (C2SP signed note)",
        "Signed checkpoint (C2SP signed note)",
    ),
    "auditor.checkpoint.title": ("Laatste controlepunt", "Latest checkpoint"),
    "auditor.checkpoint.intro": (
        "De vault ondertekent elke seconde een controlepunt: de grootte en root-hash van het "
        "logboek. Bewaar het. Met een later controlepunt bewijst u dat er sindsdien niets is "
        "veranderd, verplaatst of weggehaald.",
        "The vault signs a checkpoint every second: the log's size and root hash. Keep it. "
        "With a later checkpoint you prove that nothing was changed, moved or removed since.",
    ),
    "auditor.checkpoint.ok": (
        "De handtekening klopt: dit is het logboek van {size} regels.",
        "The signature verifies: this is the log of {size} entries.",
    ),
    "auditor.checkpoint.key": (
        "Gecontroleerd met de sleutel die deze server vastlegde toen hij hem voor het eerst "
        "opvroeg (hieronder). Vergelijk die met de sleutel die de beheerder publiceerde.",
        "Checked with the key this server pinned when it first asked for it (below). "
        "Compare it with the key the operator published.",
    ),
    "auditor.checkpoint.failed": (
        "De handtekening klopt niet met de sleutel van het logboek.",
        "The signature does not verify under the log's key.",
    ),
    "auditor.checkpoint.origin": ("Logboek (origin)", "Log (origin)"),
    "auditor.checkpoint.verifier": ("Sleutel (verifier key)", "Key (verifier key)"),
    "auditor.consistency.title": (
        "Breidt het een eerder controlepunt uit?",
        "Does it extend an earlier checkpoint?",
    ),
    "auditor.consistency.intro": (
        "Geef de grootte van een controlepunt dat u eerder zag. Deze pagina controleert het "
        "consistentiebewijs (RFC 9162) tussen dat controlepunt en het laatste.",
        "Give the size of a checkpoint you saw before. This page checks the consistency "
        "proof (RFC 9162) between that checkpoint and the latest.",
    ),
    "auditor.consistency.old": (
        "Grootte van het eerdere controlepunt",
        "Size of the earlier checkpoint",
    ),
    "auditor.consistency.button": ("Controleer", "Check"),
    "auditor.consistency.bad_size": (
        "Geef een grootte van 1 tot en met {size}.",
        "Give a size from 1 to {size}.",
    ),
    "auditor.consistency.unknown_size": (
        "De vault ondertekende geen controlepunt van {size} regels. Hij ondertekent per "
        "groep nieuwe regels: geef de grootte van een controlepunt dat u echt zag.",
        "The vault signed no checkpoint of {size} entries. It signs per batch of new "
        "entries: give the size of a checkpoint you actually saw.",
    ),
    "auditor.pasted.title": (
        "Een controlepunt dat u bewaarde",
        "A checkpoint you kept",
    ),
    "auditor.pasted.intro": (
        "Plak een ondertekend controlepunt dat u eerder kreeg. Deze pagina controleert de "
        "handtekening met de sleutel van het logboek, en het consistentiebewijs (RFC 9162) "
        "van dat controlepunt naar het laatste.",
        "Paste a signed checkpoint you received before. This page checks its signature "
        "under the log's key, and the consistency proof (RFC 9162) from that checkpoint to "
        "the latest.",
    ),
    "auditor.pasted.label": ("Ondertekend controlepunt", "Signed checkpoint"),
    "auditor.pasted.hint": (
        "De hele tekst: drie regels (logboek, grootte, root-hash), een lege regel en de "
        "handtekening, die begint met —.",
        "The whole text: three lines (log, size, root hash), a blank line and the signature, "
        "which starts with —.",
    ),
    "auditor.pasted.button": ("Controleer dit controlepunt", "Check this checkpoint"),
    "auditor.pasted.empty": (
        "Plak eerst een controlepunt in het veld.",
        "Please paste a checkpoint into the field first.",
    ),
    "auditor.pasted.too_long": (
        "Dit is langer dan een controlepunt kan zijn (meer dan {limit} tekens). Plak alleen "
        "het controlepunt.",
        "This is longer than a checkpoint can be (more than {limit} characters). Please "
        "paste only the checkpoint.",
    ),
    "auditor.pasted.consistent": (
        "Ja: dit controlepunt van {old} regels is door het logboek ondertekend, en het "
        "logboek van {new} regels breidt het uit. Er is sindsdien niets veranderd, verplaatst "
        "of weggehaald.",
        "Yes: this checkpoint of {old} entries is signed by the log, and the log of {new} "
        "entries extends it. Nothing was changed, moved or removed since.",
    ),
    "auditor.pasted.same": (
        "Ja: dit is het laatste controlepunt zelf ({new} regels), door het logboek ondertekend.",
        "Yes: this is the latest checkpoint itself ({new} entries), signed by the log.",
    ),
    "auditor.pasted.malformed": (
        "Dit is geen ondertekend controlepunt, of er ontbreekt een stuk. Plak de hele tekst, "
        "met de handtekening.",
        "This is not a signed checkpoint, or part of it is missing. Please paste the whole "
        "text, with the signature.",
    ),
    "auditor.pasted.origin": (
        "Dit controlepunt is van een ander logboek: {found}. Deze pagina controleert "
        "controlepunten van {expected}.",
        "This checkpoint is of another log: {found}. This page checks checkpoints of {expected}.",
    ),
    "auditor.pasted.signature": (
        "De handtekening klopt niet met de sleutel van dit logboek. Misschien is de tekst "
        "veranderd, of is hij met een andere sleutel ondertekend. Er is niets vergeleken.",
        "The signature does not verify under this log's key. Perhaps the text was changed, "
        "or it was signed with another key. Nothing was compared.",
    ),
    "auditor.pasted.larger": (
        "De handtekening klopt, maar dit controlepunt telt {old} regels: meer dan de {new} "
        "regels van het laatste. Een logboek wordt nooit korter. Bewaar dit controlepunt en "
        "meld het aan de beheerder en aan andere auditors.",
        "The signature verifies, but this checkpoint counts {old} entries: more than the "
        "{new} of the latest. A log never gets shorter. Keep this checkpoint and report it "
        "to the operator and to other auditors.",
    ),
    "auditor.pasted.unknown": (
        "De handtekening klopt, maar de vault zegt dat hij geen controlepunt van {old} "
        "regels heeft. Hij bewaart elk controlepunt dat hij ondertekent. Bewaar dit "
        "controlepunt en meld het aan de beheerder en aan andere auditors.",
        "The signature verifies, but the vault says it has no checkpoint of {old} entries. "
        "It keeps every checkpoint it signs. Keep this checkpoint and report it to the "
        "operator and to other auditors.",
    ),
    "auditor.pasted.inconsistent": (
        "Nee: de handtekening klopt, maar het logboek van {new} regels breidt dit "
        "controlepunt van {old} regels niet uit. Er is iets veranderd of weggehaald. Bewaar "
        "dit controlepunt als bewijs en meld het aan de beheerder en aan andere auditors.",
        "No: the signature verifies, but the log of {new} entries does not extend this "
        "checkpoint of {old} entries. Something was changed or removed. Keep this "
        "checkpoint as evidence and report it to the operator and to other auditors.",
    ),
    "auditor.pasted.latest": (
        "Het laatste controlepunt zelf klopt niet met de sleutel van het logboek, dus er is "
        "niets om mee te vergelijken.",
        "The latest checkpoint itself does not verify under the log's key, so there is "
        "nothing to compare with.",
    ),
    "auditor.pasted.origin_label": ("Logboek (origin)", "Log (origin)"),
    "auditor.pasted.size": ("Grootte van uw controlepunt", "Size of your checkpoint"),
    "auditor.pasted.root": ("Root-hash van uw controlepunt", "Root hash of your checkpoint"),
    "auditor.pasted.latest_size": (
        "Grootte van het laatste controlepunt",
        "Size of the latest checkpoint",
    ),
    "auditor.pasted.latest_root": (
        "Root-hash van het laatste controlepunt",
        "Root hash of the latest checkpoint",
    ),
    "auditor.pasted.proof": (
        "Consistentiebewijs: {count} hashes",
        "Consistency proof: {count} hashes",
    ),
    "auditor.pasted.no_hashes": (
        "Geen hashes nodig: uw controlepunt was leeg.",
        "No hashes needed: your checkpoint was empty.",
    ),
    "auditor.consistency.ok": (
        "Ja: het logboek van {new} regels breidt dat van {old} regels uit. Er is niets "
        "veranderd, verplaatst of weggehaald.",
        "Yes: the log of {new} entries extends the one of {old} entries. Nothing was "
        "changed, moved or removed.",
    ),
    "auditor.consistency.failed": (
        "Niet bewezen dat het logboek van {new} regels dat van {old} regels uitbreidt.",
        "Not proven that the log of {new} entries extends the one of {old} entries.",
    ),
    "auditor.export.title": ("Exporteren", "Export"),
    "auditor.export.intro": (
        "Download de regels die bij de filters passen. Ook elke export wordt gelogd.",
        "Download the entries that match the filters. Every export is logged too.",
    ),
    "auditor.export.what": ("Wat u downloadt", "What you download"),
    "auditor.export.all": (
        "Geen filters: het hele logboek, tot en met het laatste controlepunt.",
        "No filters: the whole log, up to the latest checkpoint.",
    ),
    "auditor.export.size": (
        "Gelezen in het controlepunt van {size} regels, zoals de lijst die u zag.",
        "Read in the checkpoint of {size} entries, as the list you saw.",
    ),
    "auditor.export.jsonl": ("Download als JSON Lines (.jsonl)", "Download as JSON Lines (.jsonl)"),
    "auditor.export.jsonl.what": (
        "Om te verifiëren: met het ondertekende controlepunt in de eerste regel, en bij "
        "filters een inclusiebewijs per regel.",
        "For verifying: with the signed checkpoint in the first line, and with filters an "
        "inclusion proof per entry.",
    ),
    "auditor.export.csv": ("Download als CSV (.csv)", "Download as CSV (.csv)"),
    "auditor.export.csv.what": (
        "Om te lezen in een spreadsheet, zonder bewijzen. Het controlepunt staat in de "
        "kop Regie-Checkpoint-Size van het antwoord.",
        "For reading in a spreadsheet, without proofs. The checkpoint is in the response's "
        "Regie-Checkpoint-Size header.",
    ),
    "auditor.export.verify": ("Offline verifiëren", "Verifying offline"),
    "auditor.export.verify.how": (
        "Met de sleutel van de publicatie van de beheerder, niet van de vault zelf. Zie "
        "docs/auditors.md.",
        "With the key from the operator's publication, not from the vault itself. See "
        "docs/auditors.md.",
    ),
    "auditor.export.change": ("Andere filters", "Other filters"),
    "auditor.export.apply": ("Neem deze filters", "Use these filters"),
    # -- kind errors -----------------------------------------------------------------------------
    "error.title": ("Dat lukte niet", "That did not work"),
    # -- acting for someone (clients/app/acting.py) ------------------------------------------
    "act.banner": ("U regelt dit voor {name}", "You are acting for {name}"),
    "act.nav": ("Regelen voor {name}", "Acting for {name}"),
    "act.nav.home": ("Overzicht", "Overview"),
    "act.nav.data": ("Gegevens", "Data"),
    "act.nav.log": ("Logboek", "Log"),
    "act.back": ("Terug naar uw eigen kluis", "Back to your own vault"),
    "act.open": ("Regelen voor {name}", "Act for {name}"),
    "act.open.child": ("Naar de kluis van {name}", "Open the vault of {name}"),
    "act.home.title": ("Regelen voor {name}", "Acting for {name}"),
    "act.home.intro": (
        "{name} heeft u toestemming gegeven om dingen te regelen. U ziet hier alleen wat die "
        "toestemming toestaat. Alles wat u doet, staat in het logboek van {name}.",
        "{name} has allowed you to arrange things. You only see here what that permission "
        "allows. Everything you do is written in the log of {name}.",
    ),
    "act.home.intro.child": (
        "Dit is de kluis van {name}. U regelt alles voor {name} tot {name} dat zelf kan. "
        "Alles wat u doet, staat in het logboek van {name}.",
        "This is the vault of {name}. You arrange everything for {name} until {name} can do "
        "it. Everything you do is written in the log of {name}.",
    ),
    "act.home.waiting": ("Wacht op een antwoord", "Waiting for an answer"),
    "act.home.waiting.one": (
        "{service} vraagt om gegevens van {name}.",
        "{service} asks for data of {name}.",
    ),
    "act.home.waiting.none": (
        "Er wachten geen vragen voor {name}.",
        "No questions are waiting for {name}.",
    ),
    "act.home.access": ("Wie kan de gegevens van {name} zien", "Who can see the data of {name}"),
    "act.home.data.read": (
        "U mag de gegevens van {name} lezen.",
        "You may read the data of {name}.",
    ),
    "act.home.data.write": (
        "U mag de gegevens van {name} lezen, aanvullen en wijzigen.",
        "You may read, add to and change the data of {name}.",
    ),
    "act.home.data.open": ("Bekijk de gegevens van {name}", "See the data of {name}"),
    "act.home.log": (
        "Wat er met de gegevens van {name} gebeurde, voor zover u dat mag zien.",
        "What happened with the data of {name}, as far as you may see it.",
    ),
    "act.home.log.open": ("Bekijk het logboek", "See the log"),
    "act.home.back": ("Terug naar het overzicht van {name}", "Back to the overview of {name}"),
    "act.data.title": ("Gegevens van {name}", "Data of {name}"),
    "act.data.intro": (
        "Dit zijn de gegevens van {name} die u mag zien. Ze staan in de kluis van {name}.",
        "This is the data of {name} you may see. It is in the vault of {name}.",
    ),
    "act.access.title": (
        "Wie kan de gegevens van {name} zien",
        "Who can see the data of {name}",
    ),
    "act.stop_service.consequence": (
        "Als u alles stopt, kan {service} niets meer zien van de gegevens die u voor {name} "
        "regelt, voor geen enkele behandeling of zaak. Vragen hierover die nog wachten, "
        "vervallen ook. Het staat in het logboek van {name}.",
        "If you stop everything, {service} can no longer see any of the data you arrange for "
        "{name}, for any treatment or case. Questions about it still waiting are dropped too. "
        "It is written in the log of {name}.",
    ),
    "act.stop_service.done": (
        "Alles wat u voor {name} regelt bij {service}, is gestopt.",
        "Everything you arrange for {name} with {service} has stopped.",
    ),
    "act.close.consequence": (
        "Als u dit klaar meldt, stopt alle toegang die bij {procedure} hoort. Dat kunt u niet "
        "terugdraaien. Het staat in het logboek van {name}.",
        "If you mark this as finished, all access that belongs to {procedure} stops. You "
        "cannot undo this. It is written in the log of {name}.",
    ),
    "act.close.refused": (
        "Bij {procedure} hoort ook toegang tot gegevens die u niet voor {name} regelt. Daarom "
        "kan alleen {name} dit klaar melden. Er is niets veranderd.",
        "{procedure} also includes access to data you do not arrange for {name}. That is why "
        "only {name} can mark it as finished. Nothing was changed.",
    ),
    "act.log.title": ("Logboek van {name}", "Log of {name}"),
    "act.log.intro": (
        "Wie er keek en wat er veranderde, bij de gegevens die u voor {name} regelt. "
        "Het nieuwste staat bovenaan.",
        "Who looked and what changed, for the data you arrange for {name}. The newest is at "
        "the top.",
    ),
    "act.request.title": (
        "{service} vraagt om gegevens van {name}",
        "{service} asks for data of {name}",
    ),
    "act.request.read_only": (
        "Alleen lezen: {service} mag niets in de kluis van {name} zetten",
        "Read only: {service} may not put anything in the vault of {name}",
    ),
    "act.record.button": ("Bewaar in de kluis van {name}", "Keep in the vault of {name}"),
    "act.record.delete.warning": (
        "Als u dit weggooit, is het met alle versies uit de kluis van {name} verdwenen. Dat "
        "kunt u niet terugdraaien. Diensten die het al gelezen hebben, hebben het misschien nog.",
        "If you delete this, it is gone from the vault of {name} with all its versions. You "
        "cannot undo that. Services that have read it may still have it.",
    ),
    # Who wrote a record or a version (its provenance): {rep} acted for {name} (or "u").
    "act.who": ("{rep} voor {name}", "{rep} for {name}"),
    "act.who_for_you": ("{rep} voor u", "{rep} for you"),
    "act.someone": ("iemand", "someone"),
    "data.by_principal": ("Gezet door {name}", "Put here by {name}"),
    "data.by_representative": ("Gezet door {rep} voor {name}", "Put here by {rep} for {name}"),
    "data.by_representative_for_you": ("Gezet door {rep} voor u", "Put here by {rep} for you"),
    "act.refused.title": ("Dit kan niet", "This is not possible"),
    "act.refused.scope": (
        "Dit valt buiten wat {name} u toestond. Daarom kan het niet. Er is niets veranderd.",
        "This is outside what {name} allowed you. That is why it cannot be done. Nothing "
        "was changed.",
    ),
    "act.refused.ended": (
        "U kunt niets meer regelen voor {name}. De toestemming is gestopt. Er is niets veranderd.",
        "You can no longer arrange anything for {name}. The permission has stopped. Nothing "
        "was changed.",
    ),
    "act.refused.expired": (
        "U kunt niets meer regelen voor {name}. De tijd van de toestemming is voorbij. Er is "
        "niets veranderd.",
        "You can no longer arrange anything for {name}. The time of the permission is over. "
        "Nothing was changed.",
    ),
    "act.refused.not_yet": (
        "De toestemming van {name} begint later. Tot dan kunt u nog niets regelen.",
        "The permission of {name} starts later. Until then you cannot arrange anything yet.",
    ),
    "act.refused.own_only": (
        "Dit kan alleen {name} zelf doen. U kunt het niet voor {name} regelen.",
        "Only {name} can do this. You cannot arrange it for {name}.",
    ),
    "act.refused.no_mandate": (
        "U kunt hier niets regelen voor {name}. Er is niets veranderd.",
        "You cannot arrange anything here for {name}. Nothing was changed.",
    ),
    "act.refused.other": (
        "Dit kan niet voor {name}. Er is niets veranderd.",
        "This cannot be done for {name}. Nothing was changed.",
    ),
    "error.denied": (
        "Dit kan niet. Er is niets veranderd.",
        "This is not possible. Nothing was changed.",
    ),
    "home.waiting.child": (
        "Er wacht een verzoek voor {name}: {service} vraagt om gegevens van {name}.",
        "A request is waiting for {name}: {service} asks for data of {name}.",
    ),
    "error.not_found.title": ("Deze pagina bestaat niet", "This page does not exist"),
    "error.not_found": (
        "We kunnen deze pagina niet vinden. Misschien is hij verplaatst of weggegooid.",
        "We cannot find this page. It may have moved or been deleted.",
    ),
    "error.unavailable": (
        "Het lukt nu even niet. Dat ligt niet aan u. Er is niets veranderd. Probeer het over "
        "een paar minuten opnieuw.",
        "This is not working right now. It is not your fault. Nothing was changed. Please try "
        "again in a few minutes.",
    ),
    "error.internal": (
        "Er ging bij ons iets mis. Dat ligt niet aan u. Probeer het opnieuw.",
        "Something went wrong on our side. It is not your fault. Please try again.",
    ),
    "error.form_expired": (
        "Deze pagina was te lang open. Daarom hebben we niets gedaan. Probeer het nog een keer.",
        "This page was open for too long, so we did not do anything. Please try once more.",
    ),
    "error.invalid": (
        "Dit kunnen we zo niet bewaren. Kijk of alles goed is ingevuld en probeer het opnieuw.",
        "We cannot keep this as it is. Please check what you filled in and try again.",
    ),
    "error.too_many.title": ("Even wachten", "Please wait a moment"),
    "error.too_many": (
        "Er is vanaf deze verbinding vaak geprobeerd in te loggen. Daarom wachten we even. "
        "Probeer het over een paar minuten opnieuw. Uw gegevens zijn veilig.",
        "There have been many sign-in attempts from this connection, so we are waiting a "
        "moment. Please try again in a few minutes. Your data is safe.",
    ),
    "error.too_many_refusals": (
        "Er is vaak geprobeerd iets te doen wat deze machtiging niet toestaat. Daarom kan dat "
        "nu even niet. Probeer het over een uur opnieuw. Moet u meer kunnen regelen? Vraag "
        "dan om een nieuwe machtiging.",
        "There were many attempts to do something this mandate does not allow, so that is not "
        "possible for a while. Please try again in an hour. Do you need to do more? Then ask "
        "for a new mandate.",
    ),
    "error.too_large": (
        "Dit is te groot om te bewaren.",
        "This is too large to keep.",
    ),
}


# What each entry name means, for auditors: a short label beside the code (docs/audit-format.md
# names them; an unknown name shows as its code alone). Auditors read the metadata of the
# whole log, so these describe the act, never a person.
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "audit.export": ("Logboek geëxporteerd", "Log exported"),
    "audit.query": ("Logboek doorzocht door een auditor", "Log searched by an auditor"),
    "auditor.appointed": ("Auditor aangesteld", "Auditor appointed"),
    "auditor.removed": ("Auditor verwijderd", "Auditor removed"),
    "connection.code": ("Koppelcode gemaakt", "Connection code made"),
    "grant.approved": ("Toegang gegeven", "Access given"),
    "grant.denied": ("Toegang geweigerd door de bewoner", "Access refused by the resident"),
    "grant.ended": ("Toegang gestopt", "Access ended"),
    "grant.lapsed": ("Verzoek verlopen zonder antwoord", "Request lapsed unanswered"),
    "grant.list": ("Toegangen bekeken", "Grants listed"),
    "grant.read": ("Toegang bekeken", "Grant viewed"),
    "grant.requested": ("Toegang gevraagd", "Access requested"),
    "key.retired": ("Sleutel vernietigd", "Key destroyed"),
    "key.rewrapped": ("Sleutels opnieuw ingepakt", "Keys rewrapped"),
    "key.rotated": ("Sleutel vervangen", "Key rotated"),
    "log.read": ("Logboek bekeken door een vertegenwoordiger", "Log viewed by a representative"),
    "log.proof": ("Bewijs voor een regel in het logboek opgevraagd", "Proof of a log entry asked"),
    "mandate.active": ("Machtiging aanvaard", "Mandate accepted"),
    "mandate.ended": ("Machtiging gestopt", "Mandate ended"),
    "mandate.lapsed": ("Machtiging niet aanvaard", "Mandate offer lapsed"),
    "mandate.offered": ("Machtiging aangeboden", "Mandate offered"),
    "mandate.refused": ("Handeling onder machtiging geweigerd", "Act under a mandate refused"),
    "mandate.throttled": (
        "Te veel geweigerde handelingen onder machtiging: gestopt",
        "Too many refused acts under a mandate: stopped",
    ),
    "procedure.closed": ("Behandeling of zaak gesloten", "Procedure closed"),
    "record.changed": ("Gegevens veranderd", "Record changed"),
    "record.created": ("Gegevens toegevoegd", "Record added"),
    "record.deleted": ("Gegevens verwijderd", "Record deleted"),
    "record.list": ("Lijst van gegevens bekeken", "Records listed"),
    "record.read": ("Gegevens bekeken", "Record read"),
    "record.write": ("Gegevens geschreven door een dienst", "Record written by a service"),
    "service.disabled": ("Dienst uitgezet", "Service disabled"),
    "service.keys-rotated": ("Sleutels van een dienst vervangen", "Service keys rotated"),
    "service.registered": ("Dienst geregistreerd", "Service registered"),
    "service.updated": ("Registratie van een dienst veranderd", "Service registration changed"),
    "token.revoked": ("Token ingetrokken", "Token revoked"),
    "vault.deleted": ("Kluis verwijderd", "Vault deleted"),
    "vault.exported": ("Kluis geëxporteerd door de bewoner", "Vault exported by the resident"),
}


def event_label(name: str, language: str) -> str | None:
    """The auditor's label for an entry name, or None for a name without one."""
    label = EVENT_LABELS.get(name)
    return None if label is None else label[1 if language == "en" else 0]


def text(key: str, language: str, /, **values: object) -> str:
    """The text for `key` in `language`, with `{placeholders}` filled in."""
    nl, en = TEXTS[key]
    template = en if language == "en" else nl
    return template.format(**values) if values else template


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TIME)


def date(moment: datetime | None, language: str) -> str:
    """`1 februari 2027` / `1 February 2027`, in Dutch time."""
    if moment is None:
        return ""
    d = local(moment)
    month = MONTHS["en" if language == "en" else "nl"][d.month - 1]
    return f"{d.day} {month} {d.year}"


def date_time(moment: datetime | None, language: str) -> str:
    if moment is None:
        return ""
    d = local(moment)
    at = "at" if language == "en" else "om"
    return f"{date(moment, language)} {at} {d:%H:%M}"
