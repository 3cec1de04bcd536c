"""`POST /v1/preview` and `make preview`: what events would do, with nothing claimed, sent or queued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intercom_destination.config.settings import Settings
from intercom_destination.ingest.prepare import prepare
from intercom_destination.ingest.report import Report, by_index
from intercom_destination.ingest.work import Unmappable
from intercom_destination.intake.answers import PlannedCall, Preview, PreviewedAction, PreviewedEvent
from intercom_destination.intake.inbound import Caller, Item
from intercom_destination.mapping.actions import Action, ActionSet
from intercom_destination.mapping.plans import Plan, Skip
from intercom_destination.mapping.requests import requests_of


def preview_of(
    items: list[Item], caller: Caller, received_at: datetime, actions: ActionSet, settings: Settings
) -> dict[str, Any]:
    """What the events would do: the actions each fires and the Intercom requests each would send
    (mapping.requests), or why it is skipped or invalid; as `POST /v1/preview` answers (api: answers.Preview)."""
    report = Report()
    events: dict[int, PreviewedEvent] = {}
    for item in items:
        for work in prepare(item, caller, received_at, report, actions, settings):
            event = events.setdefault(
                work.index,
                PreviewedEvent(index=work.index, messageId=work.message_id, type=work.call_type, actions=[]),
            )
            if work.action is not None:
                event.actions.append(_shown(work.plan, work.action))
            elif isinstance(work.plan, Skip):
                event.skipped = work.plan.reason
            elif isinstance(work.plan, Unmappable):
                event.error = work.plan.error
    preview = Preview(events=[events[index] for index in sorted(events)], errors=sorted(report.rejected, key=by_index))
    return preview.model_dump(mode="json", exclude_unset=True)


def _shown(plan: Plan | Unmappable, action: Action) -> PreviewedAction:
    """An action's plan as the preview shows it: its requests, or why there are none."""
    shown = PreviewedAction(name=action.name, type=action.type)
    match plan:
        case Skip():
            shown.skipped = plan.reason
        case Unmappable():
            shown.error = plan.error
        case _:
            shown.requests = [PlannedCall.model_validate(request) for request in requests_of(plan)]
    return shown
