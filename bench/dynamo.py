"""The embedded DynamoDB the in-process sections share, and services wired to a fresh table.

The table comes from template.yaml's definition (``localdev``), exactly as the test suite builds it;
services are built with :func:`shared.container.build_services`, bcrypt cost 4 and an inline key ring.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Before boto3/botocore are imported anywhere: fake credentials, a region, no X-Ray.
for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("POWERTOOLS_TRACE_DISABLED", "1"),
    ("POWERTOOLS_SERVICE_NAME", "user-center"),
    ("POWERTOOLS_METRICS_NAMESPACE", "UserCenterBench"),
):
    os.environ.setdefault(_name, _value)

from localdev.dynamo import EmbeddedDynamo, ensure_table  # noqa: E402
from localdev.template import read_api  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.container import Services, build_services  # noqa: E402
from shared.services.signing_keys import new_ring_document  # noqa: E402

BENCH_ROUNDS = 4


class Dynamo:
    """One moto server for the whole run; :meth:`fresh_services` gives a new, empty table each time."""

    def __init__(self) -> None:
        self._server: EmbeddedDynamo | None = None
        self._table_properties: dict[str, Any] | None = None
        self.endpoint = ""

    def start(self) -> str:
        self._server = EmbeddedDynamo()
        self.endpoint = self._server.start()
        self._table_properties = read_api().table_properties
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def fresh_services(self, senders: Any = None, **changes: Any) -> Services:
        """Services on a new table (bcrypt cost 4, inline ES256 ring); ``changes`` override settings."""
        assert self._table_properties is not None, "start() first"
        name = f"bench-{uuid.uuid4().hex[:12]}"
        ensure_table(self.endpoint, name, self._table_properties)
        values: dict[str, Any] = {
            "table_name": name,
            "dynamodb_endpoint": self.endpoint,
            "bcrypt_rounds": BENCH_ROUNDS,
            "legacy_pbkdf2_iterations": 0,  # failures padded to a cost-4 bcrypt only (bench/password_timing.py: real)
            "signing_keys_json": json.dumps(new_ring_document()),
            "mfa_key": base64.b64encode(os.urandom(32)).decode(),  # TOTP secrets sealed locally (KMS in AWS)
            **changes,
        }
        return build_services(Settings(**values), senders=senders)


@contextmanager
def embedded() -> Iterator[Dynamo]:
    dynamo = Dynamo()
    dynamo.start()
    try:
        yield dynamo
    finally:
        dynamo.stop()
