"""Each event of a request validated and mapped with every action it fires: the works a request delivers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from intercom_destination.config.settings import LeadHandling, Settings
from intercom_destination.delivery.identity import keys_of
from intercom_destination.durability.claims import idempotency_key
from intercom_destination.durability.records import version_of
from intercom_destination.ingest.report import Report
from intercom_destination.ingest.work import Unmappable, Work
from intercom_destination.intake.answers import ItemError
from intercom_destination.intake.events import FieldError, InvalidCallError, parse_call
from intercom_destination.intake.inbound import Caller, Item
from intercom_destination.mapping import map_call
from intercom_destination.mapping.actions import Action, ActionSet
from intercom_destination.mapping.fields import AnyCall
from intercom_destination.mapping.plans import Skip, scoped
from intercom_destination.person import person_ids

logger = Logger(child=True)
_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
_BROWSER_ALIAS = (
    "alias is not accepted with a browser key: it merges contacts, and a key in a web page is public; "
    "send it from your server with a server key"
)

#: The names that switch cloud mode in an event's `integrations`, most specific first (lower case).
CLOUD_MODE_NAMES = ("intercom cloud mode (actions)", "intercom")


def integrations_allow(integrations: dict[str, Any], names: tuple[str, ...] = CLOUD_MODE_NAMES) -> bool:
    """Segment's rule: the destination's own name false skips; `All: false` skips unless that name is
    truthy. Of our names, the most specific present decides (`Intercom Cloud Mode (Actions)`, then
    `Intercom`). Keys are compared case-insensitively (RudderStack SDKs send `INTERCOM`)."""
    flags = {str(key).lower(): value for key, value in integrations.items()}
    for name in names:
        if (flag := flags.get(name)) is not None:
            return flag is not False
    return flags.get("all") is not False


def prepare(
    item: Item, caller: Caller, received_at: datetime, report: Report, actions: ActionSet, settings: Settings
) -> list[Work]:
    """Validate one event and map it with each action it fires (one work each, in the file's order);
    problems are recorded against its index and it is left out."""
    index, data = item.index, item.data
    message_id = message_id_of(data)
    call_type = str(data.get("type"))[:20] if isinstance(data, dict) else "unknown"
    if not isinstance(data, dict):
        errors = [FieldError(field="(event)", message="must be a JSON object")]
    elif item.problems:
        errors = [FieldError(field=path, message=why) for path, why in item.problems]
    elif item.size > settings.max_event_bytes:
        errors = [FieldError(field="(event)", message=f"over the {settings.max_event_bytes}-byte limit")]
    elif caller.browser and call_type == "alias":
        errors = [FieldError(field="type", message=_BROWSER_ALIAS)]
    else:
        try:
            call = parse_call(data)
        except InvalidCallError as exc:
            errors = exc.errors
        except Exception as exc:  # a bug of ours must not cost the batch: park it, fix, unpark
            logger.exception("event could not be parsed; parking it", extra={"message_id": message_id})
            unmappable = Unmappable(f"{type(exc).__name__}: {str(exc)[:200]}")
            key, received_ms = idempotency_key(caller.key, data), unix_ms(received_at)
            return [Work(index, message_id, call_type, unmappable, data, key, received_ms, tuple(person_ids(data)))]
        else:
            key = idempotency_key(caller.key, data)
            return [
                _map(index, message_id, call, data, key, action, received_at, settings.lead_handling, caller.browser)
                for action in _fired(actions, call, data)
            ]
    report.counts[f"{call_type if call_type in _TYPES else 'unknown'}.rejected"] += 1
    for error in errors:
        report.rejected.append(ItemError(index, message_id, error.field, "invalid_event", error.message))
    logger.info("event rejected", extra={"message_id": message_id, "index": index, "errors": len(errors)})
    return []


def _map(
    index: int,
    message_id: str | None,
    call: AnyCall,
    data: dict[str, Any],
    key: str,
    action: Action | Skip,
    received_at: datetime,
    lead_handling: LeadHandling,
    browser: bool,
) -> Work:
    occurred_ms, ids = unix_ms(call.occurred_at(received_at)), tuple(person_ids(data))
    if isinstance(action, Skip):
        return Work(index, message_id, call.type, action, data, key, occurred_ms, ids)
    key += action.dedupe_suffix(call.type)
    try:
        plan = scoped(map_call(call, received_at, lead_handling, action, data), browser)
    except Exception as exc:  # a bug of ours must not cost the batch: park it, fix, unpark
        logger.exception("event could not be mapped; parking it", extra={"message_id": message_id})
        unmappable = Unmappable(f"{type(exc).__name__}: {str(exc)[:200]}")
        return Work(index, message_id, call.type, unmappable, data, key, occurred_ms, ids, action=action)
    version = version_of(plan, call, received_at)
    return Work(index, message_id, call.type, plan, data, key, occurred_ms, ids, version, action, browser)


def _fired(actions: ActionSet, call: AnyCall, data: dict[str, Any]) -> list[Action | Skip]:
    if not integrations_allow(call.integrations):
        return [Skip("integrations object turns Intercom off")]
    fired: list[Action | Skip] = [*actions.fired(data)]
    return fired or [Skip(f"no action's trigger matches this {call.type}")]


def identity_keys_of(works: list[Work]) -> list[str]:
    return list(
        dict.fromkeys(key for work in works if not isinstance(work.plan, Unmappable) for key in keys_of(work.plan))
    )


def unix_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def message_id_of(data: Any) -> str | None:
    """The messageId to echo in errors and logs, if it is a plain value (it may be anything)."""
    value = data.get("messageId") if isinstance(data, dict) else None
    return str(value)[:100] if isinstance(value, str | int | float) and not isinstance(value, bool) else None
