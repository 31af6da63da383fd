"""Reads template.yaml, the single source of truth, for the local server and the tests.

It understands just enough CloudFormation to serve the API locally: the short-form intrinsic tags,
parameters with their defaults, ``Ref``/``Sub``/``If``/``Equals`` in environment variables, the API
events of each function, the authorizer, the gateway responses and the table definition.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!ImportValue": "Fn::ImportValue",
    "!Base64": "Fn::Base64",
    "!GetAZs": "Fn::GetAZs",
}


class _Loader(yaml.CSafeLoader):
    """The safe loader on libyaml's parser (the template is large: several times faster than pure Python)."""


def _construct(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _TAGS.get("!" + suffix, "Fn::" + suffix)
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _construct)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data (intrinsics in their long form)."""
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    return data


@dataclass
class Route:
    method: str
    path: str
    function: str
    authorizer: str | None
    requirement: str | None = None  # None for public routes; "user", "role:<code>" or "perm:<code>"

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{([^}/+]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        regex = re.sub(r"\\\{([^}/]+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile("^" + regex.rstrip("/") + "/?$")


@dataclass
class Function:
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]


@dataclass
class Authorizer:
    name: str
    function: str
    header: str
    cache_ttl: int


@dataclass
class Api:
    routes: list[Route]
    functions: dict[str, Function]
    authorizers: dict[str, Authorizer]
    gateway_responses: dict[str, dict[str, Any]]
    cors: dict[str, str] | None
    table_properties: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    # A consumer stack's route map, from its SSM parameter ".../routes/<api id>" (JSON value)
    registered_route_map: dict[str, str] | None = None


class Evaluator:
    """Evaluates intrinsics against parameter values and local stand-ins for resources."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str], resources: dict[str, str]) -> None:
        self.template = template
        self.parameters = parameters
        self.resources = resources
        self.pseudo = {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::StackName": "user-center-local",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.resources:
            return self.resources[name]
        raise KeyError(f"cannot resolve Ref {name} locally")

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template.get("Conditions", {})[name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                values = {k: str(self.value(v)) for k, v in extra.items()}
                return re.sub(r"\$\{([^}!]+)\}", lambda m: values.get(m.group(1)) or self.ref(m.group(1)), text)
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return str(self.value(arg[0])) == str(self.value(arg[1]))
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.value(v)) for v in arg[1])
            if key == "Fn::GetAtt":
                return f"local:{arg[0]}.{arg[1]}"
            if key == "Fn::ImportValue":
                return f"import:{self.value(arg)}"
        return {k: self.value(v) for k, v in node.items()}


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def read_api(overrides: dict[str, str] | None = None, path: Path = TEMPLATE) -> Api:
    """Routes, functions (with resolved environments), authorizers and the table of the template.

    ``overrides`` replace parameter values (local mode sets, e.g., ``AuthorizerCacheTtl`` to 0).
    """
    path = path.resolve()
    template = load(path)
    parameters = {**parameter_defaults(template), **(overrides or {})}
    resources = template["Resources"]
    stand_ins = {name: name for name in resources}
    table_names = [n for n, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"]
    if len(table_names) > 1:
        raise ValueError("a template may define at most one DynamoDB table")
    evaluator = Evaluator(template, parameters, stand_ins)
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    global_handler_dir = path.parent

    functions: dict[str, Function] = {}
    routes: list[Route] = []
    apis: list[dict[str, Any]] = []
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Api":
            apis.append(props)
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        env_nodes = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
        env = {k: str(evaluator.value(v)) for k, v in env_nodes.items()}
        functions[name] = Function(name, global_handler_dir / props["CodeUri"], props["Handler"], env)
        requirements = (resource.get("Metadata") or {}).get("RouteRequirements") or {}
        for event_name, event in props.get("Events", {}).items():
            if event.get("Type") != "Api":
                continue
            ep = event["Properties"]
            auth = (ep.get("Auth") or {}).get("Authorizer")
            protected = auth not in (None, "NONE")
            requirement = requirements.get(event_name, "user") if protected else None
            routes.append(Route(ep["Method"].upper(), ep["Path"], name, auth if protected else None, requirement))
        unknown = set(requirements) - set(props.get("Events", {}))
        if unknown:
            raise ValueError(f"{name}: RouteRequirements name no event: {sorted(unknown)}")

    if len(apis) != 1:
        raise ValueError("template.yaml must define exactly one AWS::Serverless::Api")
    api = apis[0]
    authorizers: dict[str, Authorizer] = {}
    for auth_name, spec in (api.get("Auth") or {}).get("Authorizers", {}).items():
        arn = spec["FunctionArn"]
        # Its own function, or another stack's exported one ("import:<export name>").
        function = arn["Fn::GetAtt"][0] if "Fn::GetAtt" in arn else str(evaluator.value(arn))
        identity = spec.get("Identity", {})
        ttl = int(evaluator.value(identity.get("ReauthorizeEvery", 300)))
        authorizers[auth_name] = Authorizer(auth_name, function, identity.get("Header", "Authorization"), ttl)
    cors_spec = api.get("Cors")
    cors = {k: str(evaluator.value(v)).strip("'") for k, v in cors_spec.items()} if cors_spec else None
    responses = {k: evaluator.value(v) for k, v in (api.get("GatewayResponses") or {}).items()}
    table = evaluator.value(resources[table_names[0]]["Properties"]) if table_names else {}
    registered = None
    for resource in resources.values():
        props = resource.get("Properties", {})
        name = props.get("Name")
        if resource["Type"] == "AWS::SSM::Parameter" and "/routes/" in json.dumps(name):
            registered = json.loads(props["Value"])
    return Api(routes, functions, authorizers, responses, cors, table, parameters, registered)


def create_table_kwargs(table_properties: dict[str, Any], table_name: str) -> dict[str, Any]:
    """boto3 ``create_table`` arguments from the template's table definition (not a copy of it)."""
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": table_properties["AttributeDefinitions"],
        "KeySchema": table_properties["KeySchema"],
        "BillingMode": table_properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if table_properties.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = table_properties["GlobalSecondaryIndexes"]
    return kwargs


def ttl_attribute(table_properties: dict[str, Any]) -> str | None:
    spec = table_properties.get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None
