"""``http.public_url``: the base URL a browser reaches the API at (the center's issuer, the WeChat
callback), on API Gateway's domain, a custom domain with a base path, and the local server."""

from __future__ import annotations

from shared.http import public_url


def event(host: str, request_path: str, path: str, **headers: str) -> dict[str, object]:
    return {"headers": {"Host": host, **headers}, "path": path, "requestContext": {"path": request_path}}


def test_the_stage_on_api_gateways_own_domain() -> None:
    host = "abc123.execute-api.ap-east-1.amazonaws.com"
    assert public_url(event(host, "/prod/oauth2/token", "/oauth2/token")) == f"https://{host}/prod"


def test_a_custom_domain_with_and_without_a_base_path() -> None:
    assert public_url(event("id.example.com", "/auth/oauth2/token", "/oauth2/token")) == "https://id.example.com/auth"
    assert public_url(event("id.example.com", "/oauth2/token", "/oauth2/token")) == "https://id.example.com"


def test_the_local_server_is_plain_http_without_the_stage() -> None:
    assert public_url(event("127.0.0.1:3000", "/dev/login", "/login")) == "http://127.0.0.1:3000"
    assert public_url(event("localhost:3000", "/dev/login", "/login")) == "http://localhost:3000"


def test_a_proxy_says_the_scheme() -> None:
    url = public_url(event("id.example.com", "/login", "/login", **{"X-Forwarded-Proto": "http"}))
    assert url == "http://id.example.com"
