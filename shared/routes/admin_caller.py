"""What every admin route shares: the caller narrowed to their live grants, and the query types."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared import http
from shared.container import get_services
from shared.schemas import AppName
from shared.services.admin import AdminActions
from shared.services.admin_scope import Caller


def admin_caller(me: http.Me) -> Caller:
    """The caller, narrowed to the grants they hold now: the admin-scope rule's input (a dependency)."""
    return get_services().admin.caller(me.context())


def actions() -> AdminActions:
    """The admin operations; each asks the admin-scope rule first (API.md section 4, "Admin scope")."""
    return get_services().admin


Admin = Annotated[Caller, Depends(admin_caller)]
AppQuery = Annotated[AppName | None, Query()]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]
Filter = Annotated[str | None, Query(max_length=254)]
