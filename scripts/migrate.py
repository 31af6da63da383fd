"""Bring a deployed stack's table up to the current item shapes (shared/migrations.py), once.

    python scripts/migrate.py --stage prod --table <TableName output>

Run it after deploying a version whose notes say the data model changed. It scans the table (an
operator's tool, not a request path), is idempotent, and records that it ran in a ``SCHEMA`` item.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.config import Settings
from shared.container import build_services
from shared.migrations import migrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev", choices=("dev", "prod"))
    parser.add_argument("--table", required=True, help="the stack's TableName output")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    env = {"STAGE": args.stage, "TABLE_NAME": args.table}
    if args.region:
        env["AWS_REGION"] = args.region
    services = build_services(Settings.from_env({**os.environ, **env}))
    changed = migrate(services.apps.apps)
    print(f"upgraded {changed['roles']} roles and {changed['users']} users")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
