"""Create or rotate the JWT signing key ring in SSM Parameter Store (run before the first deploy).

    python scripts/signing_keys.py init   --stage dev           # creates /user-center/dev/signing-keys
    python scripts/signing_keys.py rotate --stage prod          # new active key, previous one kept
    python scripts/signing_keys.py show   --stage prod          # kids and which one is active

Rotation keeps the previous key for verification (two active keys), so tokens signed before the
rotation stay valid until they expire; functions pick the new key up within their cache time
(SIGNING_KEYS_CACHE_SECONDS, 300 s). Private keys are written only to the SecureString parameter.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from shared.services.signing_keys import new_ring_document, rotate_document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("init", "rotate", "show"))
    parser.add_argument("--stage", default="dev", choices=("dev", "prod"))
    parser.add_argument("--name", help="parameter name (default /user-center/<stage>/signing-keys)")
    parser.add_argument("--alg", default="ES256", choices=("ES256", "RS256"))
    parser.add_argument("--region")
    args = parser.parse_args()

    import boto3

    name = args.name or f"/user-center/{args.stage}/signing-keys"
    ssm = boto3.client("ssm", region_name=args.region)
    current = None
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        current = json.loads(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])

    if args.action == "show":
        if current is None:
            print(f"{name}: not found")
            return 1
        for key in current["keys"]:
            marker = "active" if key["kid"] == current["active_kid"] else "verify-only"
            print(f"{key['kid']}  {key['alg']}  {marker}")
        return 0
    if args.action == "init" and current is not None:
        print(f"{name} exists already; use rotate")
        return 1
    document = new_ring_document(args.alg) if current is None else rotate_document(current, args.alg)
    ssm.put_parameter(Name=name, Value=json.dumps(document), Type="SecureString", Overwrite=current is not None)
    print(f"{name}: active key {document['active_kid']} ({len(document['keys'])} key(s) in the ring)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
