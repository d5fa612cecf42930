"""The resident client against a scripted vault (httpx.MockTransport): what each method
sends, how it reads the answer, and that the sync and async clients do exactly the same."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest

import clients.sdk as sdk
from clients.sdk.resident import AsyncResidentClient, Grant, ResidentClient

BASE = "http://localhost:8000"
T = "2026-11-22T09:45:01.646754Z"
GID = str(uuid.uuid4())
RID = str(uuid.uuid4())
SID = str(uuid.uuid4())

GRANT = {
    "id": GID,
    "service": {"id": SID, "name": "Huisartsenpraktijk De Linde"},
    "status": "requested",
    "end_reason": None,
    "requested": {
        "datatypes": ["health.medication", "health.allergies"],
        "actions": ["read", "write"],
        "valid_until": T,
    },
    "datatypes": ["health.medication", "health.allergies"],
    "actions": ["read", "write"],
    "valid_until": None,
    "purpose": {"id": "https://w3id.org/dpv#ServiceProvision", "text": "Medicatiebeoordeling"},
    "legal_basis": "https://w3id.org/dpv#Consent",
    "binding_message": "Code 4711",
    "procedure": {
        "id": str(uuid.uuid4()),
        "ref": "BEH-2026-0042",
        "description": "Fysiotherapie knie",
        "planned_end": None,
        "status": "open",
        "closed_by": None,
        "closed_at": None,
    },
    "request_expires_at": T,
    "created_at": T,
    "decided_at": None,
    "ended_at": None,
    "history": [
        {"at": T, "status": "requested", "actor": "service", "reason": None, "details": None}
    ],
}
RECORD = {
    "id": RID,
    "category": "health",
    "type": "health.medication",
    "kind": "json",
    "current_version": 2,
    "version": 2,
    "title": "Medicatie",
    "content": {"note": "500 mg"},
    "file": None,
    "provenance": {"written_by": "service", "service_id": SID, "grant_id": GID},
    "signature": None,
    "created_at": T,
    "updated_at": T,
}
SIGNED = {
    "session_token": "rgs_secret",
    "token_type": "Bearer",
    "expires_at": T,
    "auth_method": "passkey",
    "recovery_codes": ["AAAA-BBBB-CCCC-DDDD"],
}
CEREMONY = {"flow_id": str(uuid.uuid4()), "public_key": {"challenge": "abc"}, "expires_at": T}


class Vault:
    """Answers by (method, path); remembers every request."""

    def __init__(self, answers: dict[tuple[str, str], Answer]) -> None:
        self.answers = answers
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        answer = self.answers.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"type": f"{BASE}/problems/not-found", "detail": "x"})
        return answer.response()

    @property
    def last(self) -> httpx.Request:
        return self.seen[-1]


class Answer:
    """A response to make afresh for every request (httpx responses are single-use)."""

    def __init__(self, status: int, **kwargs: Any) -> None:
        self.status, self.kwargs = status, kwargs

    def response(self) -> httpx.Response:
        return httpx.Response(self.status, **self.kwargs)


def ok(body: Any = None, status: int = 200) -> Answer:
    return Answer(204) if body is None else Answer(status, json=body)


# Each case: a call on a client, the request it must make, and what it must give back.
CASES: list[tuple[str, Callable[[Any], Any], str, str, Any, Callable[[Any], bool]]] = [
    (
        "begin_sign_up",
        lambda c: c.begin_sign_up("Anna"),
        "POST",
        "/v1/auth/passkeys/register/options",
        {"display_name": "Anna"},
        lambda r: r.public_key == {"challenge": "abc"},
    ),
    (
        "finish_sign_up",
        lambda c: c.finish_sign_up("f", "Anna", {"id": "cred"}),
        "POST",
        "/v1/auth/passkeys/register/verify",
        {"flow_id": "f", "display_name": "Anna", "credential": {"id": "cred"}},
        lambda r: r.recovery_codes == ("AAAA-BBBB-CCCC-DDDD",),
    ),
    (
        "records",
        lambda c: c.records("health"),
        "GET",
        "/v1/me/records",
        None,
        lambda r: r[0].provenance.written_by == "service" and r[0].content == {"note": "500 mg"},
    ),
    (
        "update_record",
        lambda c: c.update_record(RID, title="Nieuw", expected_version=2),
        "PATCH",
        f"/v1/me/records/{RID}",
        {"title": "Nieuw", "expected_version": 2},
        lambda r: r.current_version == 2,
    ),
    (
        "update_content_to_null",
        lambda c: c.update_record(RID, content=None),
        "PATCH",
        f"/v1/me/records/{RID}",
        {"content": None},
        lambda r: r.id == RID,
    ),
    (
        "version",
        lambda c: c.record(RID, 1),
        "GET",
        f"/v1/me/records/{RID}/versions/1",
        None,
        lambda r: r.title == "Medicatie",
    ),
    (
        "approve_as_asked",
        lambda c: c.approve(GID),
        "POST",
        f"/v1/me/grants/{GID}/approve",
        {},
        lambda r: isinstance(r, Grant) and r.requested.actions == ("read", "write"),
    ),
    (
        "approve_narrower",
        lambda c: c.approve(
            GID,
            datatypes=["health.medication"],
            actions=["read"],
            valid_until=datetime(2027, 1, 1, tzinfo=UTC),
        ),
        "POST",
        f"/v1/me/grants/{GID}/approve",
        {
            "datatypes": ["health.medication"],
            "actions": ["read"],
            "valid_until": "2027-01-01T00:00:00+00:00",
        },
        lambda r: r.service_name == "Huisartsenpraktijk De Linde",
    ),
    (
        "revoke_service",
        lambda c: c.revoke_service(SID),
        "POST",
        f"/v1/me/services/{SID}/revoke",
        None,
        lambda r: r == 3,
    ),
    (
        "end_session",
        lambda c: c.end_session(SID),
        "DELETE",
        f"/v1/me/sessions/{SID}",
        None,
        lambda r: r is None,
    ),
]


def answers_for(method: str, path: str) -> dict[tuple[str, str], Answer]:
    body: Any = {
        "/v1/auth/passkeys/register/options": CEREMONY,
        "/v1/auth/passkeys/register/verify": SIGNED,
        "/v1/me/records": {"records": [RECORD]},
        f"/v1/me/records/{RID}": RECORD,
        f"/v1/me/records/{RID}/versions/1": RECORD,
        f"/v1/me/grants/{GID}/approve": GRANT,
        f"/v1/me/services/{SID}/revoke": {"stopped": 3},
    }.get(path)
    return {(method, path): ok(body)}


def run_both(vault: Vault, call: Callable[[Any], Any], token: str | None = "rgs_t") -> list[Any]:
    """The call on the sync client, then on the async one; both results."""
    sync = ResidentClient(BASE, transport=httpx.MockTransport(vault), token=token)
    first = call(sync)

    async def go() -> Any:
        client = AsyncResidentClient(BASE, transport=httpx.MockTransport(vault), token=token)
        async with client:
            return await call(client)

    return [first, anyio.run(go)]


@pytest.mark.parametrize(("name", "call", "method", "path", "body", "check"), CASES)
def test_each_call_sends_the_same_request_from_both_clients(
    name: str,
    call: Callable[[Any], Any],
    method: str,
    path: str,
    body: Any,
    check: Callable[[Any], bool],
) -> None:
    vault = Vault(answers_for(method, path))
    results = run_both(vault, call)
    assert len(vault.seen) == 2
    for request in vault.seen:
        assert (request.method, request.url.path) == (method, path)
        sent = json.loads(request.content) if request.content else None
        assert sent == body
        authenticated = not path.startswith("/v1/auth/")
        assert (request.headers.get("authorization") == "Bearer rgs_t") is authenticated
    assert vault.seen[0].url == vault.seen[1].url
    assert results[0] == results[1]
    assert check(results[0])


def test_signing_in_keeps_the_token_and_signing_out_forgets_it() -> None:
    vault = Vault(
        {
            ("POST", "/v1/auth/passkeys/login/verify"): ok(SIGNED),
            ("POST", "/v1/auth/sign-out"): ok(),
        }
    )
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault))
    signed = client.finish_sign_in("f", {"id": "x"})
    assert client.token == "rgs_secret"
    assert "rgs_secret" not in repr(signed)
    assert "AAAA" not in repr(signed)
    assert "rgs_secret" not in repr(client)
    client.sign_out()
    assert vault.last.headers["authorization"] == "Bearer rgs_secret"
    assert client.token is None
    with pytest.raises(sdk.AuthError):
        client.sign_out()  # not sent: there is no session
    assert len(vault.seen) == 2


def test_with_token_shares_the_connection() -> None:
    vault = Vault({("GET", "/v1/me/records"): ok({"records": []})})
    base = ResidentClient(BASE, transport=httpx.MockTransport(vault))
    anna, bram = base.with_token("rgs_anna"), base.with_token("rgs_bram")
    assert anna.http is base.http is bram.http
    anna.records()
    bram.records()
    assert [r.headers["authorization"] for r in vault.seen] == [
        "Bearer rgs_anna",
        "Bearer rgs_bram",
    ]


@pytest.mark.parametrize("bad", ["../me", "x/../../v1/me", "", "not-a-uuid"])
def test_ids_must_be_uuids(bad: str) -> None:
    vault = Vault({})
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="rgs_t")
    with pytest.raises(ValueError, match=r"UUID|badly formed"):
        client.revoke(bad)
    assert vault.seen == []


def test_errors_arrive_as_the_sdk_tree() -> None:
    vault = Vault(
        {
            ("DELETE", "/v1/me"): Answer(
                403,
                json={
                    "type": f"{BASE}/problems/reauthentication-required",
                    "detail": "sign in again with your passkey to confirm this action",
                },
            ),
            ("POST", f"/v1/me/grants/{GID}/approve"): Answer(
                422, json={"type": f"{BASE}/problems/invalid-input", "detail": "more than asked"}
            ),
        }
    )

    def delete(c: Any) -> Any:
        return c.delete_vault()

    for call, error in (
        (delete, sdk.ReauthenticationRequired),
        (lambda c: c.approve(GID, actions=["write"]), sdk.InvalidRequest),
    ):
        with pytest.raises(error):
            call(ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t"))

        async def go(call: Any = call) -> None:
            await call(AsyncResidentClient(BASE, transport=httpx.MockTransport(vault), token="t"))

        with pytest.raises(error):
            anyio.run(go)


def test_an_unreadable_answer_is_a_protocol_error() -> None:
    vault = Vault({("GET", "/v1/me"): ok({"display_name": "Anna"})})  # fields missing
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t")
    with pytest.raises(sdk.ProtocolError):
        client.me()


def test_a_time_without_zone_is_refused_before_sending() -> None:
    vault = Vault({})
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t")
    with pytest.raises(ValueError, match="time zone"):
        client.approve(GID, valid_until=datetime(2027, 1, 1))  # noqa: DTZ001 - the point
    assert vault.seen == []


def test_upload_names_the_file_in_rfc_8187_and_streams() -> None:
    vault = Vault({("PUT", f"/v1/me/records/{RID}/file"): ok(RECORD)})
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t")
    client.upload_file(
        RID, iter([b"%PDF", b"-1.4"]), filename="zorgplan café.pdf", media_type="application/pdf"
    )
    sent = vault.last
    assert sent.content == b"%PDF-1.4"
    assert sent.headers["content-type"] == "application/pdf"
    assert sent.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''zorgplan%20caf%C3%A9.pdf"
    )


def test_download_reads_name_and_type_before_the_bytes() -> None:
    vault = Vault(
        {
            ("GET", f"/v1/me/records/{RID}/file"): Answer(
                200,
                content=b"hello",
                headers={
                    "content-type": "text/plain",
                    "content-disposition": "attachment; filename*=UTF-8''caf%C3%A9.txt",
                },
            )
        }
    )
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t")
    with client.download_file(RID, version=2) as (info, chunks):
        assert (info.filename, info.media_type, info.size_bytes) == ("café.txt", "text/plain", 5)
        assert b"".join(chunks) == b"hello"
    assert vault.last.url.params["version"] == "2"


# -- my access log and its proofs ----------------------------------------------------------

EID = str(uuid.uuid4())
ENTRY = {
    "id": EID,
    "at": T,
    "name": "record.read",
    "outcome": "permit",
    "reason": None,
    "service": {"id": SID, "name": "Huisartsenpraktijk De Linde"},
    "datatype": "health.medication",
    "action": "read",
    "grant_id": GID,
    "log_index": 7,
    "text_nl": "Huisartsenpraktijk De Linde heeft uw medicatieoverzicht bekeken.",
    "text_en": "Huisartsenpraktijk De Linde viewed your medication overview.",
}
PROOF = {
    "event_id": EID,
    "index": 7,
    "size": 9,
    "leaf_hash": "AAAA",
    "hashes": ["BBBB", "CCCC"],
    "checkpoint": "regie.example/log\n9\nroot\n\n— regie.example/log sig\n",
    "root_hash": "root",
    "origin": "regie.example/log",
    "verifier_key": "regie.example/log+1234abcd+AQID",
}


def test_log_sends_filters_and_cursor_and_reads_typed_entries() -> None:
    older = {**ENTRY, "id": str(uuid.uuid4()), "service": None, "log_index": None}
    vault = Vault(
        {
            ("GET", "/v1/me/log"): ok(
                {
                    "entries": [ENTRY, older],
                    "next_before": older["id"],
                    "services": [{"id": SID, "name": "Huisartsenpraktijk De Linde"}],
                }
            )
        }
    )
    before = str(uuid.uuid4())
    results = run_both(
        vault,
        lambda c: c.log(
            before=before,
            limit=2,
            service_id=SID,
            datatype="health",
            names=["record.read", "record.list"],
        ),
    )
    assert results[0] == results[1]
    for request in vault.seen:
        assert request.headers["authorization"] == "Bearer rgs_t"
        assert request.url.params.multi_items() == [
            ("before", before),
            ("limit", "2"),
            ("service", SID),
            ("datatype", "health"),
            ("name", "record.read"),
            ("name", "record.list"),
        ]
    page = results[0]
    assert isinstance(page, sdk.resident.LogPage)
    first, second = page.entries
    assert first.service == sdk.resident.LoggedService(SID, "Huisartsenpraktijk De Linde")
    assert first.log_index == 7
    assert first.at == datetime(2026, 11, 22, 9, 45, 1, 646754, tzinfo=UTC)
    assert first.text("nl").startswith("Huisartsenpraktijk De Linde heeft")
    assert first.text("en").endswith("viewed your medication overview.")
    assert second.service is None
    assert second.log_index is None
    assert page.next_before == older["id"]
    assert page.services[0].name == "Huisartsenpraktijk De Linde"


def test_log_without_filters_sends_no_parameters() -> None:
    vault = Vault({("GET", "/v1/me/log"): ok({"entries": [], "next_before": None, "services": []})})
    page = run_both(vault, lambda c: c.log())[0]
    assert page.entries == ()
    assert page.next_before is None
    assert all(not r.url.params for r in vault.seen)


def test_log_proof_and_key_are_typed() -> None:
    vault = Vault(
        {
            ("GET", f"/v1/me/log/{EID}/proof"): ok(PROOF),
            ("GET", "/v1/audit/key"): ok(
                {"origin": "regie.example/log", "verifier_key": PROOF["verifier_key"]}
            ),
        }
    )
    proof, again = run_both(vault, lambda c: c.log_proof(EID))
    assert proof == again
    assert (proof.index, proof.size, proof.hashes) == (7, 9, ("BBBB", "CCCC"))
    assert proof.origin == "regie.example/log"
    key = run_both(vault, lambda c: c.log_key(), token=None)[0]
    assert key == sdk.resident.LogKey("regie.example/log", PROOF["verifier_key"])
    assert "authorization" not in vault.last.headers


def test_log_refuses_a_cursor_or_id_that_is_not_a_uuid_before_sending() -> None:
    vault = Vault({})
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t")
    with pytest.raises(ValueError, match=r"UUID|badly formed"):
        client.log(before="../../v1/me")
    with pytest.raises(ValueError, match=r"UUID|badly formed"):
        client.log_proof("x/../../v1/me")
    assert vault.seen == []


def test_a_proof_not_yet_in_the_log_is_not_found() -> None:
    vault = Vault(
        {
            ("GET", f"/v1/me/log/{EID}/proof"): Answer(
                404,
                json={
                    "type": f"{BASE}/problems/not-found",
                    "detail": "this event is not yet in the verified log; please try again "
                    "in a minute",
                },
            )
        }
    )
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t")
    with pytest.raises(sdk.NotFound, match="not yet"):
        client.log_proof(EID)


def test_a_log_answer_missing_fields_is_a_protocol_error() -> None:
    vault = Vault({("GET", "/v1/me/log"): ok({"entries": [{"id": EID}], "services": []})})
    client = ResidentClient(BASE, transport=httpx.MockTransport(vault), token="t")
    with pytest.raises(sdk.ProtocolError):
        client.log()
