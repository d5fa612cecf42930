"""Every statement on a table of resident data filters by resident_id (design.md §6).

The whole resident journey runs through the API while every SQL statement is recorded; each
SELECT, UPDATE and DELETE that touches a resident-data table must name `resident_id` in its
WHERE clause (or in a join condition to such a table). Key rotation is the one deliberate
exception: it rewraps data keys across residents and never reads a record; a representative
listing the mandates they hold is the other (by `representative_id`, an index).
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Connection, event

from support.residents import sign_in, sign_up
from vault.storage.orm import RESIDENT_DATA_TABLES

ROTATION = (
    re.compile(r"data_keys\.kek_version != "),
    re.compile(r"GROUP BY data_keys\.kek_version"),
    # The other deliberate one: a representative's own mandates, found by who holds them
    # (vault/storage/repositories.py SqlMandateRepository); each is then read by principal.
    re.compile(r"WHERE mandates\.representative_id = "),
)


def offending(statements: list[str]) -> list[str]:
    bad = []
    for sql in statements:
        flat = " ".join(sql.split())
        verb = flat.split(" ", 1)[0].upper()
        if verb not in ("SELECT", "UPDATE", "DELETE"):
            continue
        tables = {t for t in RESIDENT_DATA_TABLES if re.search(rf"\b{t}\b", flat)}
        if not tables or any(p.search(flat) for p in ROTATION):
            continue
        where = flat.upper().split(" WHERE ", 1)
        if len(where) < 2 or "RESIDENT_ID" not in where[1]:
            bad.append(flat)
    return bad


def test_the_resident_journey_only_runs_resident_scoped_queries(
    client: TestClient, connection: Connection, container
) -> None:  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        anna = sign_up(client)
        sign_in(client, anna)
        client.get("/v1/me", headers=anna.headers)
        rid = client.post(
            "/v1/me/records",
            json={
                "category": "health",
                "type": "health.allergies",
                "title": "Allergie",
                "content": {"a": 1},
            },
            headers=anna.headers,
        ).json()["id"]
        client.patch(f"/v1/me/records/{rid}", json={"title": "Allergieën"}, headers=anna.headers)
        client.get(f"/v1/me/records/{rid}/versions", headers=anna.headers)
        client.get(f"/v1/me/records/{rid}/versions/1", headers=anna.headers)
        fid = client.post(
            "/v1/me/records",
            json={
                "category": "documents",
                "type": "documents.other",
                "title": "Scan",
                "kind": "file",
            },
            headers=anna.headers,
        ).json()["id"]
        client.put(
            f"/v1/me/records/{fid}/file",
            content=b"x" * 100_000,
            headers={
                **anna.headers,
                "Content-Type": "image/png",
                "Content-Disposition": 'attachment; filename="s.png"',
            },
        )
        client.get(f"/v1/me/records/{fid}/file", headers=anna.headers)
        client.get("/v1/me/records?category=health", headers=anna.headers)
        client.get("/v1/me/export", headers=anna.headers)
        client.get("/v1/me/log?datatype=health&limit=5", headers=anna.headers)
        client.get(f"/v1/me/log?before={rid}", headers=anna.headers)  # not an event: 404
        client.get(f"/v1/me/log/{rid}/proof", headers=anna.headers)
        client.delete(f"/v1/me/records/{rid}", headers=anna.headers)
        container.key_rotation.rotate(operator="test-operator")
        assert client.delete("/v1/me", headers=anna.headers).status_code == 204
    finally:
        event.remove(connection, "before_cursor_execute", record)
    touched = [s for s in statements if any(t in s for t in RESIDENT_DATA_TABLES)]
    assert len(touched) > 30  # the journey really ran
    assert offending(statements) == []


def test_the_checker_catches_an_unscoped_query() -> None:
    assert offending(["SELECT records.title FROM records WHERE records.record_id = ?"])
    assert offending(["DELETE FROM record_versions"])
    assert not offending(
        ["SELECT * FROM records WHERE records.resident_id = ? AND records.record_id = ?"]
    )
