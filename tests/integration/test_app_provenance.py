"""Who put a record there, in the resident app: the API's provenance in words, for the
principal in their own vault and for a representative under the mandate."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from conftest import ORIGIN
from fastapi.testclient import TestClient
from test_app_acting import add_record, give
from test_app_pages import csrf_of, sign_up_in_app


@pytest.fixture
def jan(client: TestClient) -> Iterator[TestClient]:
    """The representative's browser on the same server."""
    with TestClient(client.app, base_url=ORIGIN) as c:
        yield c


def test_the_app_says_who_wrote_a_record(client: TestClient, jan: TestClient) -> None:
    marieke = client
    sign_up_in_app(marieke, "Marieke")
    sign_up_in_app(jan, "Jan")
    mid = give(marieke, jan, ["health"], ["read", "write"])
    base = f"/people/{mid}"
    add_record(marieke, "", "health.medication", "Mijn medicijnen")
    by_jan = add_record(jan, base, "health.allergies", "Noten")
    # Jan, acting for Marieke: hers are hers, his are his.
    page = html.unescape(jan.get(f"{base}/data").text)
    assert "Gezet door Marieke" in page
    assert "Door u gezet" in page
    assert "iemand voor" not in page
    # Marieke, in her own vault: Jan put it there for her.
    page = html.unescape(marieke.get("/data").text)
    assert "Gezet door Jan voor u" in page
    assert "Door u gezet" in page
    # The record's versions: Jan's first, then Marieke's own change.
    path = "/data/" + by_jan.rstrip("/").rsplit("/", 1)[-1]
    edit = marieke.get(path + "/edit")
    marieke.post(
        path + "/edit",
        data={
            "csrf": csrf_of(edit.text),
            "title": "Noten en pinda",
            "text": "Noten",
            "expected_version": "1",
        },
    )
    shown = html.unescape(marieke.get(path).text)
    assert "door Jan voor u" in shown
    assert "door u" in shown
    seen_by_jan = html.unescape(jan.get(by_jan).text)
    assert "door Marieke" in seen_by_jan
