"""Departments (API.md section 4): list, tree, create, read, update, delete. A department with
sub-departments or users cannot be deleted (409 ``RESOURCE_IN_USE``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared.clock import IdFactory
from shared.db.departments import Department, DepartmentRepository
from shared.errors import NotFoundError, ResourceInUseError, ValidationError

if TYPE_CHECKING:
    from shared.schemas import DepartmentBody


FIELDS = ("dept_name", "parent_id", "sort", "leader", "status")


class DepartmentService:
    def __init__(self, departments: DepartmentRepository, ids: IdFactory) -> None:
        self.departments = departments
        self.ids = ids

    def list_departments(self) -> list[Department]:
        """The departments, by ``sort`` then id (the edge nests them into a tree by ``parent_id``)."""
        return sorted(self.departments.list_departments(), key=lambda d: (d.sort, d.dept_id))

    def get(self, dept_id: str) -> Department:
        found = [d for d in self.departments.list_departments() if d.dept_id == dept_id]
        if not found:
            raise NotFoundError()
        return found[0]

    def create(self, command: DepartmentBody) -> Department:
        fields = command.changes()
        if not fields.get("dept_name"):
            raise ValidationError({"dept_name": ["required"]})
        dept = self._apply(Department(dept_id=self.ids()[:12], dept_name=""), fields)
        self.departments.put(dept, create=True)
        return dept

    def update(self, dept_id: str, change: DepartmentBody) -> Department:
        dept = self._apply(self.get(dept_id), change.changes())
        if not self.departments.put(dept, create=False):
            raise NotFoundError()
        return dept

    def delete(self, dept_id: str) -> None:
        self.get(dept_id)
        if any(d.parent_id == dept_id for d in self.departments.list_departments()) or self.departments.has_users(
            dept_id
        ):
            raise ResourceInUseError()
        self.departments.delete(dept_id)

    def _apply(self, dept: Department, fields: dict[str, Any]) -> Department:
        changes = {k: fields[k] for k in FIELDS if k in fields and fields[k] is not None}
        if fields.get("parent_id") in ("", "0", 0):
            changes["parent_id"] = None
        updated = replace(dept, **changes)
        if updated.status not in ("active", "disabled"):
            raise ValidationError({"status": ["active or disabled"]})
        depts = {d.dept_id: d for d in self.departments.list_departments()}
        parent = updated.parent_id
        while parent:
            if parent == updated.dept_id:
                raise ValidationError({"parent_id": ["a department cannot be its own ancestor"]})
            if parent not in depts:
                raise ValidationError({"parent_id": ["no such department"]})
            parent = depts[parent].parent_id
        return updated
