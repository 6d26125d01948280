"""docs/security.md's table of who may do what says what the permission table in code does:
every action has a row, and each row's scope for each role is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from callcenter.accounts.permissions import PERMISSIONS, Action, Scope
from kernel.models import StaffRole

DOC = Path(__file__).resolve().parents[3] / "docs" / "security.md"
ROLES = [StaffRole.OPERATOR, StaffRole.SUPERVISOR, StaffRole.ADMIN, StaffRole.COMMUNITY_WORKER]
CODE = re.compile(r"`([a-z_]+\.[a-z_]+)`")
# How the table words a scope (a cell may say more after it: "street, to anyone").
WORDS = {
    Scope.STREET: ("street", "yes"),
    Scope.OWN_CENTRE: ("own centre",),
    Scope.OWN_CENTRE_OR_HELD: ("own + held",),
    Scope.HELD: ("only an incident they hold",),
    None: ("no",),
}


def _rows() -> list[tuple[list[str], list[str]]]:
    """The table's rows that name actions: their codes, and the four roles' cells."""
    text = DOC.read_text(encoding="utf-8").split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and (codes := CODE.findall(cells[0])):
            rows.append((codes, cells[1:]))
    return rows


def test_every_action_in_the_code_has_a_row_in_the_docs_table() -> None:
    named = {code for codes, _ in _rows() for code in codes}
    assert sorted(action.value for action in Action if action.value not in named) == []
    assert sorted(named - {action.value for action in Action}) == []


def test_each_rows_scopes_are_those_of_the_code() -> None:
    wrong = []
    for codes, cells in _rows():
        for code in codes:
            for role, cell in zip(ROLES, cells, strict=True):
                scope = PERMISSIONS[role].get(Action(code))
                if not any(
                    re.match(rf"{re.escape(word)}($|[,;] | \()", cell) for word in WORDS[scope]
                ):
                    wrong.append(f"{code} {role.value}: the table says {cell!r}, the code {scope}")
    assert wrong == []
