"""Hostile request bodies (issue 16): deep JSON, wrong content types, unbounded numbers, control characters
in URLs. Each answers a clean 4xx error, never a 500, and a 422 lists every bad field at once."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shared import schemas
from shared.errors import BadRequestError, PayloadTooLargeError, ValidationError
from shared.http import MAX_JSON_DEPTH, body_fields, json_too_deep, validate

LIMIT = 64 * 1024


def request(body: str, content_type: str | None = "application/json") -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return {"body": body, "headers": headers, "isBase64Encoded": False}


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# -- depth ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [nested_arrays(1000), '{"a":' + nested_arrays(2000) + "}", nested_objects(400)])
def test_a_deeply_nested_body_is_bad_request_not_a_recursion_error(body: str) -> None:
    # Given about 2 KB of nested brackets, deeper than Python's parser can recurse / When parsed
    # Then it is a 400, not a RecursionError
    with pytest.raises(BadRequestError):
        body_fields(request(body), LIMIT)


def test_the_depth_limit_holds_even_where_python_could_parse() -> None:
    # Given objects nested exactly 32 levels, and 33 (both well within Python's recursion limit)
    at_limit, over = nested_objects(MAX_JSON_DEPTH), nested_objects(MAX_JSON_DEPTH + 1)
    json.loads(over)  # Python itself parses it
    # When each is parsed / Then 32 levels pass and 33 are refused
    assert body_fields(request(at_limit), LIMIT) == json.loads(at_limit)
    with pytest.raises(BadRequestError):
        body_fields(request(over), LIMIT)
    with pytest.raises(BadRequestError):
        body_fields(request('{"a":' + nested_arrays(MAX_JSON_DEPTH) + "}"), LIMIT)


def test_brackets_inside_strings_do_not_count() -> None:
    # Given a shallow object whose strings hold many brackets, escaped quotes and backslashes
    body = json.dumps({"note": "[[[{{{" * 200, "quote": 'say "[[["\\', "path": "\\[" * 50})
    # When parsed / Then it is an ordinary body
    assert body_fields(request(body), LIMIT)["note"].startswith("[[[")
    assert json_too_deep(body) is False


def test_a_form_typed_json_body_is_depth_checked_too() -> None:
    # Given curl -d's content type with a JSON body (read as JSON), nested too deep
    with pytest.raises(BadRequestError):
        body_fields(request(nested_arrays(100), "application/x-www-form-urlencoded"), LIMIT)


# -- content types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "multipart/form-data; boundary=x", "text/json", "application/xml", None],
)
def test_a_json_body_with_a_non_json_content_type_is_bad_request(content_type: str | None) -> None:
    # Given a JSON body sent as a cross-site form or fetch could send it without a CORS preflight
    # When parsed / Then it is refused (before, text/plain was read as JSON)
    with pytest.raises(BadRequestError):
        body_fields(request('{"username": "alice", "password": "x"}', content_type), LIMIT)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"],
)
def test_json_content_types_are_read(content_type: str) -> None:
    assert body_fields(request('{"a": 1}', content_type), LIMIT) == {"a": 1}


def test_form_bodies_and_curl_d_json_are_still_read() -> None:
    form = "application/x-www-form-urlencoded"
    assert body_fields(request("token=abc&x=", form), LIMIT) == {"token": "abc", "x": ""}
    assert body_fields(request('{"token": "abc"}', form), LIMIT) == {"token": "abc"}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json"])
def test_an_empty_body_is_an_empty_object(content_type: str | None) -> None:
    assert body_fields(request("", content_type), LIMIT) == {}


@given(
    body=st.one_of(
        st.text(max_size=300),
        st.text(alphabet='[]{}":,\\ a1', max_size=300),
        st.integers(min_value=0, max_value=3000).map(nested_arrays),
    ),
    content_type=st.sampled_from(
        [None, "application/json", "application/x-www-form-urlencoded", "text/plain", "application/ld+json"]
    ),
)
def test_any_body_is_a_dict_or_a_bad_request(body: str, content_type: str | None) -> None:
    # Given any text with any content type / When parsed / Then a dict or a 400 (413 above the limit)
    try:
        parsed = body_fields(request(body, content_type), LIMIT)
    except (BadRequestError, PayloadTooLargeError):
        return
    assert isinstance(parsed, dict)


# -- 422 lists every bad field --------------------------------------------------------------------------


def test_a_422_lists_every_failing_field_at_once_nested_ones_included() -> None:
    # Given an app body with four bad fields, two of them nested
    fields = {
        "allowed_callback_origins": ["https://a.example:99999", "https://ok.example", "https://[::1"],
        "require_captcha": "maybe",
        "wechat": {"web_app_id": "x" * 100},
        "display_name": "y" * 500,
    }
    # When validated
    with pytest.raises(ValidationError) as refused:
        validate(schemas.AppBody, fields)
    # Then each one is named
    assert set(refused.value.errors or {}) == {
        "allowed_callback_origins.0",
        "allowed_callback_origins.2",
        "require_captcha",
        "wechat.web_app_id",
        "display_name",
    }


def test_a_menu_with_several_bad_fields_names_them_all() -> None:
    fields = {"menu_name": "", "sort": 10**40, "menu_type": 9, "path": "/a\r\nb", "redirect": "/\n"}
    with pytest.raises(ValidationError) as refused:
        validate(schemas.MenuBody, fields)
    assert set(refused.value.errors or {}) == {"menu_name", "sort", "menu_type", "path", "redirect"}


def test_an_admin_user_update_with_a_bad_status_is_refused_before_the_service_runs() -> None:
    # Given a valid new password beside an invalid status and a nickname too long
    fields = {"password": "N3w-password", "status": "superuser", "nickname": "n" * 100}
    # When the body is validated (before any service call) / Then both bad fields are named
    with pytest.raises(ValidationError) as refused:
        validate(schemas.AdminUserUpdateBody, fields)
    assert set(refused.value.errors or {}) == {"status", "nickname"}
    assert validate(schemas.AdminUserUpdateBody, {"status": "disabled"}).status == "disabled"


# -- number bounds ---------------------------------------------------------------------------------------


def body_models() -> list[type[BaseModel]]:
    return [
        model
        for _, model in inspect.getmembers(schemas, inspect.isclass)
        if issubclass(model, schemas.Body) and model is not schemas.Body
    ]


def integer_fields(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Integer properties of a model's JSON schema (inside ``anyOf`` for optional ones)."""
    found: dict[str, dict[str, Any]] = {}
    for name, prop in model.model_json_schema()["properties"].items():
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "integer":
                found[name] = option
    return found


INTEGER_FIELDS = [(model, name) for model in body_models() for name in integer_fields(model)]


def test_the_integer_fields_are_found() -> None:
    # (guards the table below: a schema change that hid them would make it vacuous)
    found = {(model.__name__, name) for model, name in INTEGER_FIELDS}
    assert {("MenuBody", "sort"), ("MenuBody", "menu_type"), ("DepartmentBody", "sort")} <= found


@pytest.mark.parametrize(("model", "name"), INTEGER_FIELDS, ids=lambda v: getattr(v, "__name__", v))
def test_every_integer_field_is_bounded(model: type[BaseModel], name: str) -> None:
    # Given any integer field of any body / Then its schema has both bounds, well inside DynamoDB's 38 digits
    bounds = integer_fields(model)[name]
    assert -(10**15) <= bounds["minimum"] <= bounds["maximum"] <= 10**15
    # And a huge value (a menu sort of 10**40 broke the local snapshot) or a tiny one is a 422 naming it
    for value in (10**40, -(10**40), "1" + "0" * 40):
        with pytest.raises(ValidationError) as refused:
            validate(model, {name: value})
        assert name in (refused.value.errors or {})


def test_sane_numbers_pass() -> None:
    menu = validate(schemas.MenuBody, {"sort": -5, "menu_type": 3})
    department = validate(schemas.DepartmentBody, {"sort": 10**9})
    assert (menu.sort, menu.menu_type, department.sort) == (-5, 3, 10**9)


# -- control characters in URL fields --------------------------------------------------------------------

URL_FIELDS = [
    (schemas.WechatQrBody, "redirect_uri", {}),
    (schemas.CompatWechatQrBody, "WECHAT_REDIRECT_URI", {}),
    (schemas.CompatWechatQrBody, "redirect_uri", {}),
    (schemas.ProfileUpdateBody, "avatar", {}),
    (schemas.AdminUserUpdateBody, "avatar", {}),
    (schemas.AdminUserCreateBody, "avatar", {"username": "bob"}),
    (schemas.MenuBody, "path", {}),
    (schemas.MenuBody, "component", {}),
    (schemas.MenuBody, "redirect", {}),
]


@pytest.mark.parametrize(("model", "name", "others"), URL_FIELDS, ids=lambda v: getattr(v, "__name__", str(v)))
@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\t", "\x00", "\x7f"])
def test_control_characters_in_a_url_field_are_a_422_naming_it(
    model: type[BaseModel], name: str, others: dict[str, Any], breaker: str
) -> None:
    # Given a URL field holding a header-splitting sequence
    value = f"https://app.example/cb{breaker}Set-Cookie: session=evil"
    # When validated / Then it is a 422 naming that field
    with pytest.raises(ValidationError) as refused:
        validate(model, {**others, name: value})
    assert name in (refused.value.errors or {})
    # And the same URL without it is accepted
    assert getattr(validate(model, {**others, name: "https://app.example/cb"}), name) == "https://app.example/cb"


def test_an_allowed_origin_with_control_characters_is_a_422_naming_the_entry() -> None:
    with pytest.raises(ValidationError) as refused:
        validate(schemas.AppBody, {"allowed_callback_origins": ["https://ok.example", "https://a.example\r\n"]})
    assert set(refused.value.errors or {}) == {"allowed_callback_origins.1"}


@pytest.mark.parametrize(
    ("resource", "limit"),
    [
        ("/api/users/import/", 4 * 1024 * 1024),  # 1,000 people with their hashes (the super admin's import)
        ("/api/users/import", 4 * 1024 * 1024),
        ("/api/users/create/", 64 * 1024),
        ("/api/auth/login/", 64 * 1024),
        (None, 64 * 1024),
    ],
)
def test_only_the_import_takes_bodies_over_the_usual_limit(resource: str | None, limit: int) -> None:
    from shared.http import body_limit

    event = {"resource": resource} if resource else {}
    assert body_limit(event, 64 * 1024) == limit
