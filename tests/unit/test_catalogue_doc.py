"""docs/catalogue.md lists exactly the categories and types of vault/records/catalogue.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from vault.records.catalogue import CATEGORIES, TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalogue.md"
CODE_CELL = re.compile(r"^`([a-z_]+(?:\.[a-z_]+)?)`$")
SECTION = re.compile(r"^###\s+`([a-z_]+)`")


@dataclass
class Table:
    header: list[str]
    section: str | None  # the category of the `### `code`` heading above it, if any
    rows: list[list[str]] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tables(text: str) -> list[Table]:
    """Every Markdown table of `text`, with the category section it stands in."""
    found: list[Table] = []
    section: str | None = None
    current: Table | None = None
    for line in text.splitlines():
        heading = SECTION.match(line)
        if heading:
            section = heading.group(1)
        elif line.startswith("## "):
            section = None
        if not line.startswith("|"):
            current = None
            continue
        cells = _cells(line)
        if current is None:
            current = Table(cells, section)
            found.append(current)
        elif all(set(c) <= set("-: ") for c in cells):
            continue  # the separator row
        else:
            current.rows.append(cells)
    return found


def _entries(table: Table) -> list[tuple[str, str, str]]:
    entries = []
    for row in table.rows:
        assert len(row) == 3, f"a row of {table.header[0]!r} has {len(row)} cells: {row}"
        code = CODE_CELL.match(row[0])
        assert code, f"the first cell of {row} is not a `code`"
        entries.append((code.group(1), row[1], row[2]))
    return entries


def test_the_categories_table_lists_exactly_the_categories() -> None:
    found = [t for t in tables(DOC.read_text(encoding="utf-8")) if t.header[0] == "Category"]
    assert len(found) == 1, "docs/catalogue.md needs exactly one table headed 'Category'"
    assert found[0].header == ["Category", "Nederlands", "English"]
    entries = _entries(found[0])
    assert [code for code, _, _ in entries] == list(CATEGORIES), "codes or their order differ"
    assert {code: (nl, en) for code, nl, en in entries} == {
        code: (label.nl, label.en) for code, label in CATEGORIES.items()
    }


def test_the_type_tables_list_exactly_the_types_under_their_category() -> None:
    found = [t for t in tables(DOC.read_text(encoding="utf-8")) if t.header[0] == "Type"]
    assert found, "docs/catalogue.md has no table headed 'Type'"
    entries: list[tuple[str, str, str]] = []
    for table in found:
        assert table.header == ["Type", "Nederlands", "English"]
        for code, nl, en in _entries(table):
            assert code.split(".", 1)[0] == table.section, (
                f"{code} is listed under the section of {table.section!r}"
            )
            entries.append((code, nl, en))
    codes = [code for code, _, _ in entries]
    assert len(codes) == len(set(codes)), "a type is listed twice"
    assert codes == list(TYPES), "codes or their order differ"
    assert {code: (nl, en) for code, nl, en in entries} == {
        code: (label.nl, label.en) for code, label in TYPES.items()
    }


def test_every_category_has_its_other_type_and_the_doc_says_so() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "`<category>.<name>`" in text
    assert "`<category>.other`" in text
    for category in CATEGORIES:
        assert f"{category}.other" in TYPES
