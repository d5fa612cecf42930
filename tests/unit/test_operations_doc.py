"""docs/operations.md lists every setting, so an operator can find each one."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_every_setting_is_in_the_operations_table() -> None:
    text = DOC.read_text()
    missing = [name for name in Settings.model_fields if f"| `REGIE_{name.upper()}` |" not in text]
    assert missing == []
