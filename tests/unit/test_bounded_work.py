"""Every request does bounded work (issue 15): directory pages read at most one DynamoDB page per shard
whatever the filter, and answer a cursor even when a page has no match."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.container import Services
from shared.db.keys import SHARDS
from shared.db.pages import Part, merge
from shared.domain import ClientInfo
from shared.services.accounts import RegisterCommand
from tests.unit.helpers import PASSWORD, hook_dynamodb_clients

# -- the merge, against a plain sort ------------------------------------------------------------------


def walk(partitions: list[list[tuple[str, bool]]], limit: int, descending: bool) -> tuple[list[str], int]:
    """Page through ``partitions`` (each: ``(key, matches)``) as DynamoDB and ``merge`` would; the keys
    returned in order, and the most items any one request evaluated."""
    returned: list[str] = []
    cursor: str | None = None
    most = 0
    for _ in range(10_000):
        parts = []
        evaluated = 0
        for partition in partitions:
            ordered = sorted(partition, reverse=descending)
            if cursor is not None:
                ordered = [kv for kv in ordered if (kv[0] < cursor if descending else kv[0] > cursor)]
            window = ordered[:limit]
            evaluated += len(window)
            more = len(ordered) > limit
            parts.append(Part([(k, k) for k, hit in window if hit], window[-1][0] if more else None))
        most = max(most, evaluated)
        page, cursor = merge(parts, limit, descending)
        assert len(page) <= limit
        returned.extend(page)
        if cursor is None:
            return returned, most
    raise AssertionError("the cursor never ended")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.text("abcdefgh", min_size=1, max_size=4), st.booleans()), max_size=12),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 4),
    st.booleans(),
)
def test_merged_pages_return_every_match_once_in_order_with_bounded_reads(
    raw: list[list[tuple[str, bool]]], limit: int, descending: bool
) -> None:
    # Keys are unique across partitions (a user is in one shard)
    seen: set[str] = set()
    partitions = []
    for partition in raw:
        unique = []
        for key, hit in partition:
            if key not in seen:
                seen.add(key)
                unique.append((key, hit))
        partitions.append(unique)
    returned, most = walk(partitions, limit, descending)
    expected = sorted((k for p in partitions for k, hit in p if hit), reverse=descending)
    assert returned == expected
    assert most <= limit * len(partitions)


# -- the directory -----------------------------------------------------------------------------------


class Queries:
    def __init__(self) -> None:
        self.limits: list[Any] = []

    def before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Query":
            self.limits.append(params.get("Limit"))


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch, services: Services) -> Queries:
    recorder = Queries()
    hook_dynamodb_clients(monkeypatch, services, "before-parameter-build.dynamodb", recorder.before_call)
    return recorder


def test_a_rare_filter_pages_with_cursors_and_bounded_queries(services: Services, queries: Queries, clock) -> None:
    # Given 40 users, the oldest of them the only one named "Zhao"
    for n in range(40):
        real_name = "Zhao Lei" if n == 0 else f"Li {n}"
        command = RegisterCommand(username=f"u{n:02d}", password=PASSWORD, real_name=real_name)
        services.accounts.register(command, ClientInfo())
        clock.advance(1)

    # When an admin lists users whose real name starts with "Zhao", two at a time, following the cursor
    found: list[str] = []
    cursor: str | None = None
    requests = 0
    empty_pages_with_cursor = 0
    while True:
        queries.limits.clear()
        query = {"real_name": "Zhao", **({"cursor": cursor} if cursor else {})}
        page = services.user_admin.list_users("app0", query, 2)
        requests += 1
        # Then each request is one DynamoDB page per shard, with the page size as its Limit
        assert queries.limits == [2] * SHARDS
        found += [u.username for u in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
        empty_pages_with_cursor += not page.items
    # And the walk found exactly that user, after empty pages that still carried a cursor
    assert found == ["u00"]
    assert empty_pages_with_cursor >= 1 and requests <= 41


def test_department_and_disabled_filters_read_only_the_users_they_list(
    services: Services, queries: Queries, clock
) -> None:
    from shared.schemas import AdminUserUpdateBody, DepartmentBody

    # Given 30 users, three in a department and two of those disabled
    dept = services.departments.create(DepartmentBody(dept_name="Sales"))
    for n in range(30):
        user = services.accounts.register(RegisterCommand(username=f"d{n:02d}", password=PASSWORD), ClientInfo())
        clock.advance(1)
        if n % 10 == 0:
            change = {"department_id": dept.dept_id, **({"status": "disabled"} if n else {})}
            services.user_admin.update(user.user_id, "app0", AdminUserUpdateBody(**change))

    # When an admin filters by the department, and by disabled users of it
    queries.limits.clear()
    in_dept = services.user_admin.list_users("app0", {"department_id": dept.dept_id}, 10)
    # Then one Query of the department's entries answers, newest first, with no cursor left
    assert queries.limits == [10]
    assert [u.username for u in in_dept.items] == ["d20", "d10", "d00"] and in_dept.next_cursor is None
    disabled = services.user_admin.list_users("app0", {"status": "disabled"}, 10)
    assert [u.username for u in disabled.items] == ["d20", "d10"]
    both = services.user_admin.list_users("app0", {"status": "active", "department_id": dept.dept_id}, 10)
    assert [u.username for u in both.items] == ["d00"]

    # And whether the department has users is one item read; moving them out frees it
    queries.limits.clear()
    assert services.departments.departments.has_users(dept.dept_id) and queries.limits == [1]
    for user in in_dept.items:
        services.user_admin.update(user.user_id, "app0", AdminUserUpdateBody(department_id=None))
    assert not services.departments.departments.has_users(dept.dept_id)
    still_disabled = services.user_admin.list_users("app0", {"status": "disabled"}, 10)
    assert [u.username for u in still_disabled.items] == ["d20", "d10"]


def test_deep_page_numbers_are_refused_in_favour_of_the_cursor(services: Services) -> None:
    from shared.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.user_admin.list_users("app0", {"page": "51"}, 10)
    assert "page" in (refused.value.errors or {})


def test_listing_a_roles_holders_pages_the_member_index(services: Services, queries: Queries) -> None:
    # Given 30 holders of a role and 5 users without it
    holders = set()
    for n in range(35):
        user = services.accounts.register(RegisterCommand(username=f"h{n:02d}", password=PASSWORD), ClientInfo())
        if n < 30:
            services.roles.assign(user.user_id, "app0", "editor")
            holders.add(f"h{n:02d}")

    # When an admin lists the role's holders four at a time, following the cursor
    listed: list[str] = []
    cursor: str | None = None
    while True:
        queries.limits.clear()
        page = services.user_admin.list_users(
            "app0", {"role_code": "editor", **({"cursor": cursor} if cursor else {})}, 4
        )
        # Then each request reads one page per shard of the member index, with the page size as its Limit
        assert queries.limits == [4] * SHARDS
        assert len(page.items) <= 4
        listed += [u.username for u in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    # And every holder is listed once, nobody else
    assert sorted(listed) == sorted(holders) and len(listed) == len(set(listed))


class Calls:
    def __init__(self) -> None:
        self.operations: list[str] = []

    def before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.operations.append(model.name)


def test_menu_trees_come_from_the_containers_cache_not_a_read_of_every_role(
    services: Services, monkeypatch: pytest.MonkeyPatch, clock
) -> None:
    from shared.schemas import MenuBody, RoleBody

    # Given an app with a directory, a page under it opened by "editor", and a page nobody opens
    root = services.menus.create("app0", MenuBody(menu_name="Docs", menu_type=1))
    page = services.menus.create("app0", MenuBody(menu_name="Edit", menu_type=2, parent_id=root.menu_id))
    services.menus.create("app0", MenuBody(menu_name="Secret", menu_type=2))
    services.role_admin.create(RoleBody(app_name="app0", role_code="editor", menu_ids=[page.menu_id]))
    calls = Calls()
    hook_dynamodb_clients(monkeypatch, services, "before-parameter-build.dynamodb", calls.before_call)

    # When two users' pages ask for their menu trees within a few seconds
    first = services.menus.for_roles("app0", ["editor", "l0"])
    read_once = list(calls.operations)
    second = services.menus.for_roles("app0", ["editor"])

    # Then each gets the page and its ancestor, and only the first request read the table (two Queries)
    assert sorted(m.menu_name for m in first) == sorted(m.menu_name for m in second) == ["Docs", "Edit"]
    assert read_once == ["Query", "Query"] and calls.operations == read_once
    # And after the cache time a request reads again
    clock.advance(6)
    services.menus.for_roles("app0", ["editor"])
    assert calls.operations == read_once * 2
