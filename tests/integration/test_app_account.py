"""The app's account pages over HTTP: recovery codes, more passkeys, sessions, confirming
with the passkey before new codes or deleting the vault. The passkey step is done as the
page's script does it (options from the app, the authenticator, the answer as a form field)."""

from __future__ import annotations

import json
import re

from conftest import ORIGIN
from fastapi.testclient import TestClient
from test_app_pages import csrf_of, sign_up_in_app

from support.passkeys import SoftPasskey


def codes_of(html: str) -> list[str]:
    return re.findall(r"<li><code>([0-9A-Z-]+)</code></li>", html)


def passkey_step(
    client: TestClient, options_path: str, action: str, passkey: SoftPasskey, *, create: bool
) -> object:
    token = csrf_of(client.get("/account").text)
    ceremony = client.post(options_path, data={"csrf": token}).json()
    answer = (passkey.create if create else passkey.get)(ceremony["public_key"])
    return client.post(
        action,
        data={"csrf": token, "flow_id": ceremony["flow_id"], "credential": json.dumps(answer)},
    )


def test_recovery_sign_in_add_a_key_and_new_codes(client: TestClient) -> None:
    _, page = sign_up_in_app(client, "Anna")
    codes = codes_of(page)
    assert len(codes) == 10
    client.post("/sign-out", data={"csrf": csrf_of(client.get("/").text)})
    assert "Welkom bij Regie" in client.get("/").text

    wrong = client.post(
        "/recover", data={"csrf": csrf_of(client.get("/recover").text), "code": "AAAA-BBBB"}
    )
    assert wrong.status_code == 401
    assert "Deze code werkt niet" in wrong.text
    done = client.post(
        "/recover", data={"csrf": csrf_of(client.get("/recover").text), "code": codes[0].lower()}
    )
    assert "U bent ingelogd met een herstelcode" in done.text

    new_key = SoftPasskey(ORIGIN)
    added = passkey_step(client, "/account/keys/options", "/account/keys", new_key, create=True)
    assert "De nieuwe sleutel is klaar." in added.text  # type: ignore[attr-defined]
    account = client.get("/account").text
    assert account.count("Gemaakt op") == 2
    assert "nog 9 herstelcodes" in account

    fresh = passkey_step(
        client, "/confirm/options", "/account/recovery-codes", new_key, create=False
    )
    new_codes = codes_of(fresh.text)  # type: ignore[attr-defined]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(codes)
    # The old codes no longer work.
    client.post("/sign-out", data={"csrf": csrf_of(client.get("/").text)})
    old = client.post(
        "/recover", data={"csrf": csrf_of(client.get("/recover").text), "code": codes[1]}
    )
    assert old.status_code == 401


def test_new_codes_without_a_confirmation_change_nothing(client: TestClient) -> None:
    sign_up_in_app(client)
    token = csrf_of(client.get("/account").text)
    refused = client.post("/account/recovery-codes", data={"csrf": token})
    assert "Het bevestigen met uw sleutel lukte niet. Er is niets veranderd." in refused.text
    assert "nog 10 herstelcodes" in client.get("/account").text


def test_sessions_end_one_and_everywhere(client: TestClient) -> None:
    passkey, _ = sign_up_in_app(client)
    other = TestClient(client.app, base_url=ORIGIN)
    page = other.get("/sign-in")
    ceremony = other.post("/sign-in/options", data={"csrf": csrf_of(page.text)}).json()
    other.post(
        "/sign-in",
        data={
            "csrf": csrf_of(page.text),
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(passkey.get(ceremony["public_key"])),
        },
    )
    assert "Hallo Anna" in other.get("/").text
    account = client.get("/account").text
    assert "Dit toestel, nu" in account
    assert "Een ander toestel of venster" in account
    end = re.search(r'action="(/account/sessions/[^"]+/end)"', account)
    assert end
    ended = client.post(end.group(1), data={"csrf": csrf_of(account)})
    assert "Dat toestel is uitgelogd." in ended.text
    assert other.get("/data").status_code == 401  # a kind sign-in page there
    everywhere = client.post(
        "/account/sign-out-everywhere", data={"csrf": csrf_of(client.get("/account").text)}
    )
    assert "U bent op al uw toestellen uitgelogd." in everywhere.text
    assert "Welkom bij Regie" in client.get("/").text


def test_deleting_needs_this_residents_passkey(client: TestClient) -> None:
    bram_browser = TestClient(client.app, base_url=ORIGIN)
    bram_key, _ = sign_up_in_app(bram_browser, "Bram")
    anna_key, _ = sign_up_in_app(client, "Anna")
    token = csrf_of(client.get("/delete").text)
    ceremony = client.post("/confirm/options", data={"csrf": token}).json()
    refused = client.post(
        "/delete",
        data={
            "csrf": token,
            "flow_id": ceremony["flow_id"],
            "credential": json.dumps(bram_key.get(ceremony["public_key"])),
        },
    )
    assert refused.status_code == 401
    assert "Er is niets veranderd" in refused.text
    assert "Hallo Anna" in client.get("/").text
    deleted = passkey_step(client, "/confirm/options", "/delete", anna_key, create=False)
    assert "Uw kluis is weggegooid" in deleted.text  # type: ignore[attr-defined]
    assert "Welkom bij Regie" in client.get("/").text
