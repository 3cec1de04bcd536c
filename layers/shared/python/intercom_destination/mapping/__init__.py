"""Pure mapping from inbound calls to Intercom requests: no I/O, table-tested."""

from __future__ import annotations

from datetime import datetime

from ..events import Alias, Group, Identify, Page, Screen, Track
from ..settings import LeadHandling
from .group import map_group
from .identify import map_identify
from .plans import Plan, Skip
from .track import map_track

__all__ = ["map_call"]


def map_call(
    call: Identify | Track | Page | Screen | Group | Alias, received_at: datetime, lead_handling: LeadHandling
) -> Plan:
    match call:
        case Identify():
            return map_identify(call, received_at, lead_handling)
        case Group():
            return map_group(call)
        case Track():
            return map_track(call, received_at)
        case _:
            return Skip(f"{call.type} calls have no Intercom request in cloud mode")
