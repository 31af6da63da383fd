"""The AWS path of the key ring: scripts/signing_keys.py writes SSM, the functions read it (moto)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from shared.config import Settings
from shared.services.signing_keys import provider_from_settings
from tests.fakes.clock import FakeClock

NAME = "/user-center/dev/signing-keys"


@pytest.fixture
def ssm() -> Iterator[object]:
    with mock_aws():
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        yield boto3.client("ssm", region_name="us-east-1")
        parameters.clear_caches()


def run_script(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    from scripts import signing_keys

    monkeypatch.setattr(sys, "argv", ["signing_keys.py", *args, "--region", "us-east-1"])
    return signing_keys.main()


def test_init_then_rotate_keeps_two_keys_and_functions_read_them(ssm, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a ring created by the deploy step
    assert run_script(monkeypatch, "init", "--stage", "dev") == 0
    first = json.loads(ssm.get_parameter(Name=NAME, WithDecryption=True)["Parameter"]["Value"])
    assert ssm.get_parameter(Name=NAME)["Parameter"]["Type"] == "SecureString"
    # When it is rotated
    assert run_script(monkeypatch, "rotate", "--stage", "dev") == 0
    second = json.loads(ssm.get_parameter(Name=NAME, WithDecryption=True)["Parameter"]["Value"])
    # Then the new key signs and the old one still verifies
    assert second["active_kid"] != first["active_kid"]
    assert [k["kid"] for k in second["keys"]] == [first["active_kid"], second["active_kid"]]
    ring = provider_from_settings(Settings(signing_keys_parameter=NAME)).ring()
    assert ring.active.kid == second["active_kid"] and set(ring.keys) == {k["kid"] for k in second["keys"]}
    # and init refuses to overwrite
    assert run_script(monkeypatch, "init", "--stage", "dev") == 1


def test_a_rotated_key_is_picked_up_early_despite_the_parameter_cache(ssm, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function that has read (and cached) the ring
    assert run_script(monkeypatch, "init", "--stage", "dev") == 0
    clock = FakeClock()
    provider = provider_from_settings(Settings(signing_keys_parameter=NAME), clock)
    old_kid = provider.ring().active.kid
    # When the ring is rotated and a token signed with the new key arrives
    assert run_script(monkeypatch, "rotate", "--stage", "dev") == 0
    new_kid = json.loads(ssm.get_parameter(Name=NAME, WithDecryption=True)["Parameter"]["Value"])["active_kid"]
    # Then, once the minute that rate-limits early reloads has passed, the unknown kid forces a fresh
    # SSM read instead of the ring cached in Powertools' parameter cache
    clock.advance(61)
    assert provider.ring().active.kid == old_kid
    key = provider.key_for(new_kid)
    assert key is not None and key.kid == new_kid
