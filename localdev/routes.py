"""The authorizer's route map, generated from template.yaml (never written by hand).

``python -m localdev.routes`` prints it as JSON: every protected route of the API and what it needs
(``user``, ``role:<code>`` or ``perm:<code>``; see the functions' ``Metadata.RouteRequirements``). The
authorizer's build writes it to ``routes.json`` beside the handler; local mode passes it in the
``ROUTE_REQUIREMENTS`` setting.
"""

from __future__ import annotations

import json

from localdev.template import Api, read_api


def route_map(api: Api) -> dict[str, str]:
    return {f"{r.method} {r.path}": r.requirement for r in api.routes if r.requirement is not None}


if __name__ == "__main__":
    print(json.dumps(route_map(read_api()), indent=2, sort_keys=True))
