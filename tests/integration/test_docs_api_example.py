"""The Python example of docs/api.md runs as written, so the guide cannot rot.

The first ```python block of docs/api.md is executed with `client` bound to the test client
(on SQLite and on PostgreSQL, like every `client` test).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def first_python_block(text: str) -> str:
    found = PYTHON_BLOCK.search(text)
    assert found, "docs/api.md has no ```python block"
    return found.group(1)


def test_the_python_example_in_the_api_guide_runs(client: TestClient) -> None:
    source = first_python_block(DOC.read_text(encoding="utf-8"))
    # The example is meant to work with any httpx-like client; it must not make its own.
    assert "client = " not in source
    namespace: dict[str, Any] = {"__name__": "docs_api_example", "client": client}
    exec(compile(source, f"{DOC}:python-example", "exec"), namespace)  # noqa: S102 - our own doc
    # It went all the way: signed up, stored a record, exported it.
    assert namespace["manifest"]["format"] == "regie-export/1"
    token = namespace["auth"]["Authorization"].removeprefix("Bearer ")
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["display_name"] == "Anna de Vries"
