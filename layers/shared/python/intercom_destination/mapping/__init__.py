"""Pure mapping from inbound calls to Intercom requests: no I/O, table-tested."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intercom_destination.config.settings import LeadHandling
from intercom_destination.mapping.actions import Action, default_action
from intercom_destination.mapping.fields import AnyCall
from intercom_destination.mapping.plans import Plan, Skip

__all__ = ["map_call"]


def map_call(
    call: AnyCall,
    received_at: datetime,
    lead_handling: LeadHandling,
    action: Action | None = None,
    event: dict[str, Any] | None = None,
) -> Plan:
    """The plan `action` makes of the call (by default, the default action of the call's type); mapped
    fields read `event`, the call's JSON as received."""
    action = action or default_action(call.type)
    if action is None:
        return Skip(f"{call.type} calls have no Intercom request in cloud mode")
    return action.kind.plan(call, received_at, lead_handling, action.mapping, event or {})
