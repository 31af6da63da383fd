"""Create the first super admin of a deployed stack (the AWS twin of local ADMIN_USERNAME/PASSWORD).

    python scripts/create_admin.py --stage prod --table <TableName output> --username root

The password is read from the terminal (or ADMIN_PASSWORD), never from the command line. The user gets
the default role and the ``admin`` role of ``app0`` (every ``system:*`` permission). Running it again
for an existing username changes nothing.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.bootstrap import ensure_super_admin
from shared.config import Settings
from shared.container import build_services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="dev", choices=("dev", "prod"))
    parser.add_argument("--table", required=True, help="the stack's TableName output")
    parser.add_argument("--username", required=True)
    parser.add_argument("--keys-parameter", help="default /user-center/<stage>/signing-keys")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    password = os.environ.get("ADMIN_PASSWORD") or getpass.getpass("password for the super admin: ")
    env = {
        "STAGE": args.stage,
        "TABLE_NAME": args.table,
        "SIGNING_KEYS_PARAMETER": args.keys_parameter or f"/user-center/{args.stage}/signing-keys",
    }
    if args.region:
        env["AWS_REGION"] = args.region
    services = build_services(Settings.from_env({**os.environ, **env}))
    created = ensure_super_admin(services, args.username, password)
    print(f"super admin {args.username!r} {'created' if created else 'already exists (unchanged)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
