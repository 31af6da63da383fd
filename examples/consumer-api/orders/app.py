"""Orders: an example backend behind the user center's authorizer.

The authorizer has already enforced the route map (RouteMap in template.yaml); the handler reads the
caller from the request context and adds its own finer check with the SDK.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from user_center_sdk import current_user, require_permission

ORDERS: dict[str, dict[str, Any]] = {}  # an example: kept in the container's memory only


def respond(status: int, data: Any) -> dict[str, Any]:
    body = {
        "success": status < 400,
        "code": status,
        "message": "ok",
        "data": data,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def list_orders(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user = current_user(event)
    mine = [order for order in ORDERS.values() if order["owner"] == user.user_id]
    return respond(200, {"items": mine, "app_name": user.app_name, "roles": sorted(user.roles)})


@require_permission("order:create")
def create_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user = current_user(event)
    order = {
        "order_id": uuid.uuid4().hex,
        "owner": user.user_id,
        "item": json.loads(event.get("body") or "{}").get("item"),
    }
    ORDERS[order["order_id"]] = order
    return respond(201, order)


def delete_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = (event.get("pathParameters") or {}).get("order_id", "")
    return respond(200, {"deleted": ORDERS.pop(order_id, None) is not None})


ROUTES = {
    ("GET", "/orders"): list_orders,
    ("POST", "/orders"): create_order,
    ("DELETE", "/orders/{order_id}"): delete_order,
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = ROUTES.get((event.get("httpMethod", ""), event.get("resource", "")))
    return route(event, context) if route else respond(404, None)
