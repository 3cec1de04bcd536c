"""The actions file from a terminal, no server needed.

    python -m local.actions check            # `make actions-check`: validate ACTIONS_FILE (or the default)
    python -m local.actions preview FILE|-   # `make preview EVENT=...`: what the event(s) would send

`preview` reads one event, an array or a batch, or an API Gateway event as in `events/` (its body and path),
and prints the actions each event fires and the Intercom requests each would send (as `POST /v1/preview`
answers; `--json` prints that JSON). Nothing is sent. Settings (LEAD_HANDLING, ...) come from the environment.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intercom_destination.actions_source import ActionsSource
from intercom_destination.config.secrets import parameter
from intercom_destination.config.settings import Settings
from intercom_destination.ingest.preview import preview_of
from intercom_destination.intake.inbound import PREVIEW_PATH, Caller, RequestError, parse_json_object, split_items
from intercom_destination.mapping.actions import DEFAULT_FILE, ActionsError, ActionSet

from local import environment


def load(settings: Settings) -> ActionSet:
    """The actions file in force locally (ACTIONS_FILE, else the default); raises ActionsError."""
    return ActionsSource(settings.actions_file, None, parameter)()


def check(settings: Settings) -> int:
    try:
        actions = load(settings)
    except ActionsError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{settings.actions_file or DEFAULT_FILE}: {len(actions.actions)} action(s), valid")
    for action in actions.actions:
        state = "on " if action.enabled else "off"
        mapped = ", ".join(action.mapping) or "defaults"
        print(f"  {state} {action.name} ({action.type}) when {action.trigger}; mapped: {mapped}")
    return 0


def preview(settings: Settings, source: str, as_json: bool) -> int:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        print(
            f"make preview: EVENT={source}: {exc.strerror}; e.g. EVENT=events/track.json, or EVENT=- to read stdin",
            file=sys.stderr,
        )
        return 2
    try:
        actions = load(settings)
        path_kind, body = _request_body(raw)
        parsed = parse_json_object(body, batch=True)
        items = split_items(path_kind, parsed, settings.max_event_bytes, settings.max_batch_events)
    except ActionsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except RequestError as exc:
        print(f"make preview: EVENT={source}: {exc}", file=sys.stderr)
        return 2
    answer = preview_of(items, Caller(""), datetime.now(UTC), actions, settings)
    print(json.dumps(answer, indent=2) if as_json else describe(answer))
    return 0


def _request_body(raw: bytes) -> tuple[str, bytes]:
    """An API Gateway event (as in events/) stands for its request: its path says the call type."""
    try:
        data = json.loads(raw)
    except ValueError:
        return PREVIEW_PATH, raw
    if not isinstance(data, dict) or "requestContext" not in data or not isinstance(data.get("body"), str):
        return PREVIEW_PATH, raw
    body = data["body"].encode()
    if data.get("isBase64Encoded"):
        body = base64.b64decode(body)
    kind = str(data.get("rawPath", "")).rstrip("/").rsplit("/", 1)[-1]
    return (kind if kind not in ("webhook", "") else PREVIEW_PATH), body


def describe(answer: dict[str, Any]) -> str:
    lines = []
    for event in answer["events"]:
        lines.append(f"event {event['index']} ({event['type']}, messageId {event.get('messageId')})")
        if "skipped" in event:
            lines.append(f"  no action: {event['skipped']}")
        for action in event["actions"]:
            lines.append(f"  {action['name']} ({action['type']})")
            if "skipped" in action or "error" in action:
                lines.append(f"    sends nothing: {action.get('skipped') or action.get('error')}")
            for request in action.get("requests", []):
                lines.append(f"    {request['method']} {request['path']}  {json.dumps(request['body'])}")
                if "note" in request:
                    lines.append(f"      ({request['note']})")
    for error in answer["errors"]:
        lines.append(f"event {error['index']} invalid: {error['field']}: {error['message']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local.actions", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate the actions file")
    shown = commands.add_parser("preview", help="what an event would send")
    shown.add_argument("event", help="a JSON file (an event, an array, a batch, or an API Gateway event) or -")
    shown.add_argument("--json", action="store_true", help="print POST /v1/preview's JSON")
    args = parser.parse_args()
    settings = environment.settings()
    sys.exit(check(settings) if args.command == "check" else preview(settings, args.event, args.json))


if __name__ == "__main__":
    main()
