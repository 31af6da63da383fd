"""template.yaml: lint, the route table, and `sam build` producing Lambda-ready artifacts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from localdev.template import ROOT, load, read_api

SAM_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0"}


def sam() -> str:
    found = shutil.which("sam") or str(ROOT / ".venv-sam" / "bin" / "sam")
    assert Path(found).exists(), "SAM CLI is installed by `make test` into .venv-sam"
    return found


def test_sam_validate_lint_passes() -> None:
    result = subprocess.run([sam(), "validate", "--lint"], cwd=ROOT, env=SAM_ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "template.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_table_has_ttl_pitr_on_demand_and_gsi() -> None:
    table = read_api().table_properties
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["GSI1", "Directory"]
    # An older stack upgrades in two deployments (one index added or removed per table update)
    legacy = read_api({"KeepLegacyDirectoryIndex": "true"}).table_properties["GlobalSecondaryIndexes"]
    assert [index["IndexName"] for index in legacy] == ["GSI1", "Directory", "GSI2"]
    assert legacy[:2] == table["GlobalSecondaryIndexes"]


def test_authorizer_is_exported_and_protected_routes_use_it() -> None:
    template = load()
    export = template["Outputs"]["AuthorizerFunctionArn"]["Export"]["Name"]
    assert export == {"Fn::Sub": "${AWS::StackName}-AuthorizerFunctionArn"}
    routes = {(r.method, r.path): r.authorizer for r in read_api().routes}
    assert routes[("GET", "/api/auth/user/info")] == "JwtAuthorizer"
    assert routes[("POST", "/api/auth/login")] is None
    assert routes[("POST", "/api/auth/logout")] == "JwtAuthorizer"


@pytest.mark.parametrize(
    ("layer", "function"), [("CenterLayer", "CenterFunction"), ("PasskeysLayer", "PasskeysFunction")]
)
def test_only_its_own_function_carries_the_center_and_passkeys_layers(layer: str, function: str) -> None:
    resources = load()["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    with_layer = {n for n, r in functions.items() if {"Ref": layer} in r["Properties"].get("Layers", [])}
    assert with_layer == {function}


def test_no_other_function_loads_the_center_or_passkey_libraries() -> None:
    """Authlib and Jinja2 (the center), fido2 (passkeys) stay out of every other function's cold start
    (they are not in its layers)."""
    allowed = {"center": {"authlib", "jinja2", "joserfc", "segno"}, "passkeys": {"fido2"}}
    required = {"center": {"authlib", "jinja2"}, "passkeys": {"fido2"}}
    watched = set().union(*allowed.values())
    for name in ("account", "authorizer", "admin", "codes", "wechat", "docs", "center", "passkeys"):
        code = f"import json, sys, functions.{name}.app; print(json.dumps(sorted(sys.modules)))"
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        loaded = {m.split(".")[0] for m in json.loads(done.stdout)} & watched
        assert required.get(name, set()) <= loaded <= allowed.get(name, set()), (name, loaded)


def test_every_template_route_is_served_by_its_handler() -> None:
    """The template is the route table: each of its paths resolves in its function's resolver."""
    from buildtools.openapi import resolvers as function_resolvers

    resolvers = function_resolvers()
    assert set(resolvers) == {r.function for r in read_api().routes}
    for route in read_api().routes:
        resolver = resolvers[route.function]
        sample = re.sub(r"\{[^}]+\}", "abc123", route.path)
        registered = resolver._static_routes + resolver._dynamic_routes
        assert any(r.method == route.method and r.rule.match(sample) for r in registered), route


def test_route_map_lists_every_protected_route_with_its_requirement() -> None:
    from buildtools.openapi import route_map

    api = read_api()
    generated = route_map()
    protected = {f"{r.method} {r.path}" for r in api.routes if r.authorizer}
    assert set(generated) == protected
    assert generated["GET /api/roles/admin-data"] == "role:admin"
    assert generated["GET /api/users"] == "perm:system:user:list"
    assert generated["GET /api/auth/user/info"] == "user"
    assert "POST /api/auth/login" not in generated


def test_a_guarded_route_without_a_requirement_fails_the_build(tmp_path: Path) -> None:
    from buildtools.openapi import RouteMapError, document, route_map

    doc = document()
    del doc["paths"]["/api/users"]["get"]["x-requirement"]
    with pytest.raises(RouteMapError, match="GET /api/users: guarded by the authorizer"):
        route_map(doc)
    # and a handler the template does not deploy (or the reverse) is named too
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace("Path: /api/roles/admin-data", "Path: /api/roles/admin-data-2"), encoding="utf-8")
    with pytest.raises(RouteMapError, match="admin-data"):
        route_map(document(), template=broken)


@pytest.mark.slow
def test_sam_build_makes_arm64_python314_artifacts_without_boto3(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    env = {**SAM_ENV, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [sam(), "build", "--build-dir", str(build_dir), "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    layer = build_dir / "SharedLayer" / "python"
    assert (layer / "shared" / "container.py").exists()
    assert (build_dir / "AccountFunction" / "app.py").exists()
    assert (build_dir / "AuthorizerFunction" / "app.py").exists()
    names = {p.name for p in layer.iterdir()}
    assert not {n for n in names if n.startswith(("boto3", "botocore", "s3transfer"))}, names
    native = [p.name for p in layer.rglob("*.so")]
    assert native and all("x86_64" not in n for n in native)
    assert any("cpython-314-aarch64" in n for n in native), native
    assert not list(layer.rglob("__pycache__"))
    from buildtools.openapi import route_map

    built_map = json.loads((build_dir / "AuthorizerFunction" / "routes.json").read_text())
    assert built_map == route_map()
    # The sign-in center's libraries are in its own layer only (pure Python), with its templates in the
    # shared package
    center = {p.name for p in (build_dir / "CenterLayer" / "python").iterdir()}
    assert {"authlib", "jinja2", "joserfc", "markupsafe", "segno"} <= center and "shared" not in center
    assert not {n for n in names if n in ("authlib", "jinja2", "joserfc")}, names
    assert (layer / "shared" / "center" / "templates" / "login.html").exists()
    assert (layer / "shared" / "center" / "static" / "center.css").exists()
    # Issue 14: no imaging library, nothing only the runtime's boto3 needs, Swagger UI with the docs only
    assert not {n for n in names if n.lower().startswith(("pil", "pillow", "captcha", "dateutil", "jmespath"))}
    assert not list(layer.rglob("swagger-ui-bundle.min.js"))
    assert (build_dir / "DocsFunction" / "swagger_ui" / "swagger-ui-bundle.min.js").exists()


CONSUMER = ROOT / "examples" / "consumer-api" / "template.yaml"


def test_consumer_example_lints_and_maps_every_protected_route(tmp_path: Path) -> None:
    result = subprocess.run(
        [sam(), "validate", "--lint", "-t", str(CONSUMER)], env=SAM_ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    api = read_api(path=CONSUMER)
    protected = {f"{r.method} {r.path}" for r in api.routes if r.authorizer}
    assert api.registered_route_map is not None and set(api.registered_route_map) == protected
    assert all(a.function == "import:user-center-dev-AuthorizerFunctionArn" for a in api.authorizers.values())


def test_consumer_example_builds_with_the_sdk(tmp_path: Path) -> None:
    result = subprocess.run(
        [sam(), "build", "-t", str(CONSUMER), "--build-dir", str(tmp_path / "build")],
        cwd=CONSUMER.parent,
        env=SAM_ENV,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    built = tmp_path / "build" / "OrdersFunction"
    assert (built / "app.py").exists() and (built / "user_center_sdk" / "context.py").exists()


def test_no_deployed_function_runs_in_local_mode() -> None:
    """WeChat mock mode and the admin code exist only in local mode (API.md section 4): the template sets
    LOCAL_MODE nowhere, for any stage, and Lambda's own variable turns it off should anyone add it."""
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert "LOCAL_MODE" not in template
    for stage in ("dev", "prod"):
        for function in read_api({"Stage": stage}).functions.values():
            assert "LOCAL_MODE" not in function.environment, function.name


def test_the_checked_in_openapi_document_is_current() -> None:
    """docs/openapi.json is what `make openapi` writes from the routes today (run it after changing one)."""
    from buildtools.openapi import DOCUMENT, document_json

    assert DOCUMENT.read_text(encoding="utf-8") == document_json(), "docs/openapi.json is stale: run make openapi"


def test_the_document_describes_every_deployed_route_with_its_protection() -> None:
    from buildtools.openapi import DOCUMENT

    doc = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {(m.upper(), "/" + p.strip("/")) for p, item in doc["paths"].items() for m in item}
    assert documented == {(r.method, r.path) for r in read_api().routes}
    users = doc["paths"]["/api/users"]["get"]
    assert users["x-requirement"] == "perm:system:user:list" and users["security"] == [{"bearerAuth": []}]
    assert "security" not in doc["paths"]["/api/auth/login"]["post"]


def test_every_enveloped_route_documents_what_it_answers() -> None:
    """Each route names its ``data`` model (``http.answers``): the document says what comes back."""
    from buildtools.openapi import DOCUMENT

    doc = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    schemas = doc["components"]["schemas"]
    info = doc["paths"]["/api/auth/user/info"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert info["allOf"] == [
        {"$ref": "#/components/schemas/Envelope"},
        {"properties": {"data": {"$ref": "#/components/schemas/UserInfo"}}},
    ]
    assert {"user_id", "roles", "permissions", "accounts"} <= set(schemas["UserInfo"]["required"])
    assert "password_hash" not in schemas["UserInfo"]["properties"]
    created = doc["paths"]["/api/auth/register"]["post"]["responses"]
    assert "201" in created and "200" not in created


def test_a_route_without_a_response_model_fails_the_build() -> None:
    from buildtools.openapi import RouteMapError, with_envelopes

    bare = {"responses": {"200": {"description": "Successful Response", "content": {"application/json": {}}}}}
    with pytest.raises(RouteMapError, match="no response model"):
        with_envelopes({"paths": {"/api/x": {"get": {**bare, "operationId": "x"}}}})


def test_throttles_are_sized_for_real_traffic_and_the_authorizer_can_be_reserved() -> None:
    """Issue 15: method throttles well above Cognito's default 120/s; concurrency can be kept for the
    authorizer (a parameter, since a new account's quota may be too small to reserve any)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor(
        "!",
        lambda loader, suffix, node: (
            {suffix: loader.construct_sequence(node)} if isinstance(node, yaml.SequenceNode) else {suffix: node.value}
        ),
    )
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506
    parameters = template["Parameters"]
    assert parameters["ThrottlingRateLimit"]["Default"] >= 1000
    assert parameters["ThrottlingBurstLimit"]["Default"] >= 2 * parameters["ThrottlingRateLimit"]["Default"]
    reserved = template["Resources"]["AuthorizerFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved["If"][0] == "ReserveAuthorizer"
    assert "AuthorizerReservedConcurrency" in str(template["Conditions"]["ReserveAuthorizer"])
