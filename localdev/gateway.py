"""A local stand-in for API Gateway (REST API, Lambda proxy integration), built from template.yaml.

It does what the real gateway does for this API: route matching (trailing slash ignored), CORS
preflight from the API's ``Cors`` setting, the TOKEN authorizer with its cache (key = token, TTL =
``ReauthorizeEvery``), IAM policy evaluation (explicit Deny wins), the request context passed to the
backend, gateway responses from ``GatewayResponses`` (401, 403, 404, 413, 5xx) and the proxy
response format.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from localdev.template import Api, Route
from localdev.workers import FunctionPool, InvocationError

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request payload limit
ACCOUNT = "123456789012"
API_ID = "local"


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values, one header line each


class Gateway:
    def __init__(self, api: Api, pools: dict[str, FunctionPool], stage: str = "dev", api_id: str = API_ID) -> None:
        self.api = api
        self.pools = pools
        self.stage = stage
        self.api_id = api_id
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # -- entry point -------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> HttpResponse:
        request_id = str(uuid.uuid4())
        path, _, query = target.partition("?")
        path = unquote(path) or "/"
        if len(body) > MAX_PAYLOAD:
            return self.gateway_response("REQUEST_TOO_LARGE", 413, request_id)
        if method == "OPTIONS" and self.api.cors:
            return self.preflight(headers)
        route, params = self.match(method, path)
        if route is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, request_id)
        authorizer_context: dict[str, Any] | None = None
        if route.authorizer:
            outcome = self.authorize(route, path, headers, request_id)
            if isinstance(outcome, HttpResponse):
                return outcome
            authorizer_context = outcome
        event = self.event(route, method, path, query, headers, body, source_ip, params, request_id)
        if authorizer_context is not None:
            event["requestContext"]["authorizer"] = authorizer_context
        try:
            result = self.pools[route.function].invoke(event)
        except InvocationError:
            return self.gateway_response("DEFAULT_5XX", 502, request_id)
        return self.proxy_response(result, request_id)

    # -- routing -----------------------------------------------------------------------------------
    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        # Like API Gateway: a literal segment wins over a path parameter (/roles/create before /roles/{id}).
        for route in sorted(self.api.routes, key=lambda r: r.path.count("{")):
            if route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None, {}

    def preflight(self, headers: dict[str, str]) -> HttpResponse:
        cors = self.api.cors or {}
        out = {
            "Access-Control-Allow-Origin": cors.get("AllowOrigin", "*"),
            "Access-Control-Allow-Methods": cors.get("AllowMethods", "*"),
            "Access-Control-Allow-Headers": cors.get("AllowHeaders", "*"),
        }
        if cors.get("MaxAge"):
            out["Access-Control-Max-Age"] = cors["MaxAge"]
        return HttpResponse(200, out, b"")

    # -- authorizer --------------------------------------------------------------------------------
    def method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{self.api_id}/{self.stage}/{method}{path}"

    def authorize(
        self, route: Route, path: str, headers: dict[str, str], request_id: str
    ) -> dict[str, Any] | HttpResponse:
        spec = self.api.authorizers[route.authorizer or ""]
        token = _header(headers, spec.header)
        if not token:
            return self.gateway_response("UNAUTHORIZED", 401, request_id)
        arn = self.method_arn(route.method, path)
        policy = self._cached(spec.name, token)
        if policy is None:
            try:
                policy = self.pools[spec.function].invoke(
                    {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
                )
            except InvocationError as exc:
                if exc.message == "Unauthorized":
                    return self.gateway_response("UNAUTHORIZED", 401, request_id)
                return self.gateway_response("AUTHORIZER_FAILURE", 500, request_id)
            if not isinstance(policy, dict) or "policyDocument" not in policy:
                return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", 500, request_id)
            if spec.cache_ttl > 0:
                with self._lock:
                    self._cache[(spec.name, token)] = (time.monotonic() + spec.cache_ttl, policy)
        if not allowed(policy["policyDocument"], arn):
            context = {k: str(v) for k, v in (policy.get("context") or {}).items()}
            return self.gateway_response("ACCESS_DENIED", 403, request_id, context)
        context = {k: v for k, v in (policy.get("context") or {}).items()}
        context["principalId"] = policy.get("principalId")
        return context

    def _cached(self, name: str, token: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._cache.get((name, token))
            if hit and hit[0] > time.monotonic():
                return hit[1]
            self._cache.pop((name, token), None)
        return None

    # -- events and responses ----------------------------------------------------------------------
    def event(
        self,
        route: Route,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        params: dict[str, str],
        request_id: str,
    ) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True) if query else {}
        try:
            text: str | None = body.decode("utf-8") if body else None
            encoded = False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        now = time.time()
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers),
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": self.api_id,
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": _request_time(now),
                "requestTimeEpoch": int(now * 1000),
                "protocol": "HTTP/1.1",
                "domainName": "127.0.0.1",
                "identity": {"sourceIp": source_ip, "userAgent": _header(headers, "user-agent")},
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    def proxy_response(self, result: Any, request_id: str) -> HttpResponse:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            return self.gateway_response("DEFAULT_5XX", 502, request_id)
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for key, values in (result.get("multiValueHeaders") or {}).items():
            if key.lower() == "set-cookie":  # never folded into one line: each cookie is its own header
                cookies += [str(v) for v in values]
            else:
                headers[key] = ", ".join(str(v) for v in values)
        for key, value in (result.get("headers") or {}).items():
            if key.lower() == "set-cookie":
                cookies.append(str(value))
            else:
                headers[key] = str(value)
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        return HttpResponse(result["statusCode"], headers, data, list(dict.fromkeys(cookies)))

    def gateway_response(
        self, kind: str, default_status: int, request_id: str, authorizer: dict[str, str] | None = None
    ) -> HttpResponse:
        """Render a gateway response the way API Gateway would, from the template's definition."""
        spec = self.api.gateway_responses.get(kind)
        if spec is None and kind in ("AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "DEFAULT_5XX"):
            spec = self.api.gateway_responses.get("DEFAULT_5XX")
        if spec is None:
            body = json.dumps({"message": "Unauthorized" if default_status == 401 else "Forbidden"})
            return HttpResponse(default_status, {"Content-Type": "application/json"}, body.encode())
        status = int(spec.get("StatusCode", default_status))
        template = (spec.get("ResponseTemplates") or {}).get("application/json", "")
        variables = {
            "$context.requestId": request_id,
            "$context.requestTime": _request_time(time.time()),
        }
        for key, value in (authorizer or {}).items():
            variables[f"$context.authorizer.{key}"] = value
        for name in sorted(variables, key=len, reverse=True):
            template = template.replace(name, variables[name])
        headers = {"Content-Type": "application/json"}
        for key, value in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
            headers[key] = str(value).strip("'")
        return HttpResponse(status, headers, template.encode("utf-8"))


def allowed(document: dict[str, Any], arn: str) -> bool:
    """IAM evaluation for execute-api: an explicit Deny wins, else some Allow must match."""
    verdict = False
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        if isinstance(resources, str):
            resources = [resources]
        if any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources):
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                verdict = True
    return verdict


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _request_time(epoch: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch))
