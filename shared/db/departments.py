"""Departments: ``ORG`` / ``DEPT#<dept_id>`` items; the tree is built in memory from one Query."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shared.db import keys
from shared.db.models import DepartmentItem, FilterEntryItem
from shared.db.table import Table, conditionally


@dataclass
class Department:
    dept_id: str
    dept_name: str
    parent_id: str | None = None
    sort: int = 0
    leader: str | None = None
    status: str = "active"


class DepartmentRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def list_departments(self) -> list[Department]:
        return [
            Department(i.dept_id, i.dept_name, i.parent_id, int(i.sort or 0), i.leader, i.status)
            for i in DepartmentItem.query(keys.ORG, DepartmentItem.sk.startswith("DEPT#"))
            if isinstance(i, DepartmentItem)
        ]

    def put(self, dept: Department, create: bool) -> bool:
        item = DepartmentItem(pk=keys.ORG, sk=keys.dept_sk(dept.dept_id), **asdict(dept))
        return conditionally(
            lambda: item.save(condition=DepartmentItem.pk.does_not_exist() if create else DepartmentItem.pk.exists())
        )

    def delete(self, dept_id: str) -> None:
        DepartmentItem(pk=keys.ORG, sk=keys.dept_sk(dept_id)).delete()

    def has_users(self, dept_id: str) -> bool:
        """True when a user belongs to the department: one entry of its ``FILTER#department`` partition."""
        return any(True for _ in FilterEntryItem.query(keys.filter_pk("department", dept_id), limit=1))
