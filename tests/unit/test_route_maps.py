"""Route maps per API: the authorizer's own, maps other stacks register in SSM, inline maps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from shared.authorizer import RouteRequirement
from shared.errors import ConfigurationError
from shared.route_maps import RouteMaps, api_id_of
from tests.fakes.clock import FakeClock

OWN = [RouteRequirement("GET", "/api/auth/user/info", "user")]
ORDERS = {"GET /orders": "user", "DELETE /orders/{id}": "role:admin"}
PREFIX = "/user-center/dev/routes"


class CountingClient:
    """A real (moto) SSM client that counts GetParameter calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.exceptions = client.exceptions
        self.calls = 0

    def get_parameter(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.client.get_parameter(**kwargs)


@pytest.fixture
def ssm() -> Iterator[CountingClient]:
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        client.put_parameter(Name=f"{PREFIX}/orders1", Value=json.dumps(ORDERS), Type="String")
        yield CountingClient(client)


def test_api_id_comes_from_the_method_arn() -> None:
    assert api_id_of("arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/orders") == "abc123"


def test_registered_map_for_its_api_own_map_for_the_rest(ssm: CountingClient) -> None:
    clock = FakeClock()
    maps = RouteMaps(lambda: OWN, parameter_prefix=PREFIX, clock=clock, ssm_client=lambda: ssm)
    orders = maps.for_api("orders1")
    assert {(r.method, r.path, r.requirement) for r in orders} == {
        ("GET", "/orders", "user"),
        ("DELETE", "/orders/{id}", "role:admin"),
    }
    assert maps.for_api("userCenterApi") == OWN
    # Both answers, the "not found" one too, are cached until max_age passes
    maps.for_api("orders1")
    maps.for_api("userCenterApi")
    assert ssm.calls == 2
    clock.advance(301)
    maps.for_api("userCenterApi")
    assert ssm.calls == 3


def test_ssm_failures_other_than_not_found_fail_closed() -> None:
    class Broken:
        class exceptions:
            class ParameterNotFound(Exception):
                pass

        def get_parameter(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")

    maps = RouteMaps(lambda: OWN, parameter_prefix=PREFIX, ssm_client=Broken)
    with pytest.raises(ConfigurationError):
        maps.for_api("orders1")


def test_inline_maps_and_no_prefix() -> None:
    maps = RouteMaps(lambda: OWN, inline=json.dumps({"consumer": ORDERS}))
    assert len(maps.for_api("consumer")) == 2
    assert maps.for_api("anything-else") == OWN
    with pytest.raises(ConfigurationError):
        RouteMaps(lambda: OWN, inline="[1, 2]")


def test_an_invalid_registered_map_is_a_configuration_error(ssm: CountingClient) -> None:
    ssm.client.put_parameter(Name=f"{PREFIX}/broken", Value='{"GET /x": "wizard"}', Type="String")
    maps = RouteMaps(lambda: OWN, parameter_prefix=PREFIX, ssm_client=lambda: ssm)
    with pytest.raises(ConfigurationError):
        maps.for_api("broken")
