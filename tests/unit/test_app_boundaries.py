"""The resident app stands on the SDK alone: it imports nothing from vault/ or api/.

One exception, in one file: clients/app/proof.py checks log proofs itself with the vault's
pure verifiers (Merkle proofs, signed notes) rather than trusting the API's word."""

from __future__ import annotations

import ast
from pathlib import Path

import clients.app

APP = Path(clients.app.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


# The verifiers the proof check uses: no storage, no secrets, no API.
VERIFIERS = {"vault.audit.merkle", "vault.audit", "vault.errors", "keys.note", "keys.errors"}


def test_the_app_imports_neither_vault_nor_api_nor_keys() -> None:
    files = sorted(APP.rglob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in imported_modules(path):
            if path.name == "proof.py" and name in VERIFIERS:
                continue
            top = name.split(".", 1)[0]
            assert top not in {"vault", "api", "keys", "sqlalchemy", "cryptography"}, (
                f"{path.relative_to(APP)} imports {name}"
            )


def test_the_check_sees_an_import_when_there_is_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from vault.records.service import RecordService\nimport api.app\n")
    assert imported_modules(bad) == {"vault.records.service", "api.app"}


def test_only_the_proof_check_borrows_the_verifiers() -> None:
    borrowing = sorted(p.name for p in APP.rglob("*.py") if imported_modules(p) & VERIFIERS)
    assert borrowing == ["proof.py"]
    assert imported_modules(APP / "proof.py") & VERIFIERS == {
        "vault.audit",
        "vault.errors",
        "keys.note",
        "keys.errors",
    }
