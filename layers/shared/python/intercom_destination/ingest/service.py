"""One inbound request, start to answer: decode, authenticate, validate each call, deliver or queue, report.

Knows HTTP only as a status, a JSON body and headers (the handler turns that into a Response).
Every valid event ends in one of: delivered, skipped, duplicate (its messageId was handled before),
stale (an identify or group older than one already applied to that person: newest wins), forgotten (dated
before its person was forgotten: a resend must not bring them back), queued on the dead-letter queue
(Intercom failed, was rate-limited, or the time budget ran out), or parked (Intercom refused it for good).
The caller gets 200 only when all of that is durable; if SQS refuses the messages, the claims are
released and the caller gets 503, so the SDK resends.

Events of one person are handled in request order; once one of them is queued for a passing failure,
the person's later events are queued behind it, in this request and (through the person record) in
later ones, so the redrive function replays them in order too. A group or track queued because its
contact is not in Intercom yet is the exception: it waits for a later event (the identify), which must
not wait behind it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.config.secrets import MisconfiguredParameterError
from intercom_destination.config.settings import LeadHandling, Settings
from intercom_destination.delivery.deliverer import COMPANY_WRITTEN, WAITS_FOR_LATER_EVENT, Deliverer, DeliveryError
from intercom_destination.delivery.identity import keys_of
from intercom_destination.durability.claims import Claim, Dedupe, idempotency_key
from intercom_destination.durability.people import Applied, People, Person, Version, version_of
from intercom_destination.durability.queue import LastError, Queue, QueuedEvent
from intercom_destination.intake.answers import (
    Accepted,
    EventsRefused,
    ItemError,
    PlannedCall,
    Preview,
    PreviewedAction,
    PreviewedEvent,
)
from intercom_destination.intake.events import FieldError, InvalidCallError, parse_call
from intercom_destination.intake.inbound import (
    PREVIEW_PATH,
    WEBHOOK_PATH,
    WEBHOOK_SCOPE,
    Caller,
    Item,
    RawRequest,
    RequestError,
    authenticate,
    decode_body,
    header_keys,
    parse_json_object,
    presented_keys,
    signed_by,
    split_items,
    takes_an_array,
)
from intercom_destination.intercom import client as intercom
from intercom_destination.intercom.client import PermanentError, RetryableError
from intercom_destination.limits import PerAddress
from intercom_destination.mapping import map_call
from intercom_destination.mapping.actions import Action, ActionsError, ActionSet, default_actions
from intercom_destination.mapping.fields import AnyCall
from intercom_destination.mapping.plans import Plan, Skip, scoped
from intercom_destination.mapping.requests import requests_of
from intercom_destination.person import hashed, person_group, person_ids, person_names, primary_name

logger = Logger(child=True)
#: Time kept inside the budget for claims, SendMessageBatch, completions and person records after the
#: last Intercom call (DynamoDB and SQS answer in 5-20 ms; these are done in parallel batches).
DURABILITY_SECONDS = 0.25
DURABILITY_SECONDS_PER_EVENT = 0.001
#: Seconds an SDK should wait before resending what could not be made durable (SQS or DynamoDB outage), or
#: what a browser key sent from an address over its rate (429).
RETRY_AFTER_SECONDS = 5
#: The code of an answer that needs the operator: a parameter missing or unreadable, an invalid actions file.
MISCONFIGURED = "misconfigured"
_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # `<type>.<outcome>` → events, for metrics


@dataclass
class Report:
    """What happened to each event of a request; `counts` keys are `<type>.<outcome>` for metrics."""

    counts: Counter[str] = field(default_factory=Counter)  # per action fired (an event may fire several)
    rejected: list[ItemError] = field(default_factory=list)  # invalid: the caller must fix the event
    failed: list[ItemError] = field(default_factory=list)  # not accepted: the caller must resend

    def answer(self) -> Answer:
        if self.failed:
            failed = list({error.index: error for error in self.failed}.values())  # once per event, not per action
            errors = sorted(failed + self.rejected, key=_by_index)
            message = f"{len(failed)} event(s) could not be accepted; retry the request"
            return Answer(
                503,
                _error_body("not_accepted", message, errors),
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
                dict(self.counts),
            )
        if self.rejected:
            events = len({error.index for error in self.rejected})  # an event may have several bad fields
            message = f"{events} event(s) rejected; the other events were accepted"
            errors = sorted(self.rejected, key=_by_index)
            return Answer(400, _error_body("validation_failed", message, errors), counts=dict(self.counts))
        return Answer(200, Accepted().model_dump(mode="json"), counts=dict(self.counts))


def _misconfigured(exc: MisconfiguredParameterError) -> RequestError:
    """Not an outage to wait out: the `misconfigured` answer is counted as a metric, which raises an alarm."""
    logger.error(
        "the destination is misconfigured; fix the parameter and its name in the stack", extra={"error": str(exc)}
    )
    return RequestError(503, MISCONFIGURED, f"the destination is misconfigured ({exc}); its operator must fix it")


def _by_index(error: ItemError) -> int:
    return error.index


def _error_body(code: str, message: str, errors: list[ItemError]) -> dict[str, Any]:
    return EventsRefused(code=code, message=message, errors=errors).model_dump(mode="json")


@dataclass(frozen=True)
class Unmappable:
    """An event that passed validation but made the mapping raise (a bug of ours): it is parked."""

    error: str


@dataclass(frozen=True)
class _Work:
    index: int
    message_id: str | None
    call_type: str
    plan: Plan | Unmappable
    event: dict[str, Any]
    key: str  # idempotency key: the event's, and the action's name unless it is the type's default action
    occurred_ms: int  # the event's time (unix ms): a forget drops what is dated before it
    ids: tuple[str, ...]  # the person ids a forget names (identity.person_ids)
    version: Version | None = None  # what an identify or group would set, and as of when
    action: Action | None = None  # None: no action fired (integrations off, or no trigger matched)
    browser: bool = False  # sent with a browser key: it may not change an existing user's email

    @cached_property
    def tags(self) -> list[str]:
        """Its person ids as its idempotency record keeps them (hashed), so a forget finds the record."""
        return [hashed(person_id) for person_id in self.ids]


@dataclass(frozen=True)
class _Outcome:
    """How one event ended in this request. `queued` / `parked` carry the message still to be sent."""

    name: (
        str  # delivered, no_lead (a Merge Lead with nothing to merge), skipped, duplicate, stale, forgotten,
        # busy, queued, parked
    )
    message: QueuedEvent | None = None

    @property
    def applied(self) -> bool:
        """Its identify or group is in Intercom: delivered, or queued or parked after its company was written."""
        return self.name == "delivered" or (self.message is not None and self.message.step == COMPANY_WRITTEN)


#: What happens to a queued or parked event next, said where it is logged.
_NEXT = {
    "queued": "the redrive replays it (every RedriveSchedule; locally `make replay`)",
    "parked": "it waits in the parking queue: fix the cause, then move it back (locally `make unpark`)",
}
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


class Ingest:
    def __init__(
        self,
        settings: Settings,
        accepted_keys: Callable[[], tuple[str, ...]],
        deliverer: Deliverer,
        executor: Executor,
        dead_letters: Queue,
        parking: Queue,
        dedupe: Dedupe,
        people: People,
        webhook_secrets: Callable[[], tuple[str, ...]] = tuple,
        actions: Callable[[], ActionSet] = default_actions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._read_actions = actions
        self._accepted_keys = accepted_keys
        self._webhook_secrets = webhook_secrets
        self._deliverer = deliverer
        self._executor = executor
        self._dead_letters = dead_letters
        self._parking = parking
        self._dedupe = dedupe
        self._people = people
        self._clock = clock
        self._browser_budget = PerAddress(settings.browser_requests_per_minute)

    def handle(self, path_kind: str, request: RawRequest, received_at: datetime) -> Answer:
        """Raises inbound.RequestError for request-level problems (nothing delivered), and a 503 one when the
        request is not done by the delivery budget: Intercom's calls end in time by themselves, but a DynamoDB
        or SQS call that hangs may take botocore's timeouts times its attempts, twice over, and Lambda's
        timeout would answer 500. The work goes on in the background; the SDK's resend finds each event
        claimed, done or free again, never delivered twice."""
        started = self._clock()
        result: list[Answer] = []
        raised: list[BaseException] = []

        def run() -> None:
            try:
                result.append(self._handle(path_kind, request, received_at, started))
            except BaseException as exc:  # handed to the caller's thread as it is
                raised.append(exc)

        worker = threading.Thread(target=run, name="request", daemon=True)
        worker.start()
        worker.join(max(started + self._settings.delivery_budget_seconds - self._clock(), 0))
        if raised:
            raise raised[0]
        if not result:
            logger.error("request not done within the budget (DynamoDB or SQS too slow); answered 503")
            raise RequestError(503, "unavailable", "the destination could not make the events durable in time; retry")
        return result[0]

    def _handle(self, path_kind: str, request: RawRequest, received_at: datetime, started: float) -> Answer:
        settings = self._settings
        caller, items = self._read(path_kind, request)
        if caller.browser and not self._browser_budget.take(request.source_ip):
            raise RequestError(
                429, "rate_limited", "too many requests from this address with a browser key; retry later"
            )

        # Intercom calls end early enough to leave the durability work after them its time in the budget.
        budget = settings.delivery_budget_seconds
        deadline = started + budget - min(DURABILITY_SECONDS + DURABILITY_SECONDS_PER_EVENT * len(items), budget / 2)
        report = Report()
        actions = self._actions()
        prepared = [work for item in items for work in prepare(item, caller, received_at, report, actions, settings)]
        claims = self._claim(prepared)
        people = person_queues(prepared)
        found, forgotten = self._read_people(people)
        self._unlearn_forgotten(people, forgotten)
        self._recall_identity(people, found)
        futures = [
            self._executor.submit(
                self._handle_person, person.works, claims, found[person.key], forgotten, deadline, received_at
            )
            for person in people
        ]
        outcomes = [pair for future in futures for pair in future.result()]
        self._make_durable(outcomes)
        self._remember(outcomes, {work.index: found[person.key] for person in people for work in person.works})
        for work, outcome in outcomes:
            self._record(report, work, outcome)
        logger.info("request handled", extra={"events": len(items), "outcomes": dict(report.counts)})
        return report.answer()

    def _read(self, path_kind: str, request: RawRequest) -> tuple[Caller, list[Item]]:
        """Authenticate (write key, or a webhook's signature) and split the body into its events."""
        settings = self._settings
        accepted = self._read_keys()
        in_header = header_keys(request.headers)
        if in_header:  # checked before the body is inflated or parsed
            authenticate(in_header, accepted)
        raw = decode_body(request, settings.max_batch_bytes)
        signature = request.headers.get("x-signature", "") if path_kind == WEBHOOK_PATH and not in_header else ""
        if signature:  # checked before the body is parsed
            secrets = self._read_secrets()
            if not secrets:
                raise RequestError(
                    401,
                    "unauthorized",
                    "X-Signature given, but no webhook secret is configured: set WebhookSecretsParameterName "
                    "(locally WEBHOOK_SECRET), or send a write key instead",
                )
            if not signed_by(raw, signature, secrets):
                raise RequestError(401, "unauthorized", "X-Signature does not match the body under any webhook secret")
        body = parse_json_object(raw, takes_an_array(path_kind))
        caller = Caller(WEBHOOK_SCOPE) if signature else authenticate(presented_keys(request.headers, body), accepted)
        return caller, split_items(path_kind, body, settings.max_event_bytes, settings.max_batch_events)

    def preview(self, request: RawRequest, received_at: datetime) -> Answer:
        """What the events of a request would do: the actions each fires and the Intercom requests each would
        send (mapping.requests), or why it is skipped or invalid. Nothing is claimed, sent or queued.
        The body is any the webhook path takes (one event, an array, a batch); a write key is required."""
        caller, items = self._read(PREVIEW_PATH, request)
        if caller.browser:  # what the actions file does is the operator's to see, not any page's visitor's
            raise RequestError(403, "forbidden", "a browser key cannot preview; use a server key")
        return Answer(200, preview_of(items, caller, received_at, self._actions(), self._settings))

    def _read_keys(self) -> tuple[str, ...]:
        """The accepted write keys; SSM unreachable is our outage, not the caller's fault: 503, resend."""
        return self._secret(self._accepted_keys, "write keys")

    def _actions(self) -> ActionSet:
        """The actions in force; unreadable or invalid (with no valid one before it) is ours to fix: 503,
        and the SDKs keep the events until it is."""
        try:
            return self._read_actions()
        except MisconfiguredParameterError as exc:
            raise _misconfigured(exc) from None
        except GetParameterError:
            logger.exception("actions unreadable")
            raise RequestError(503, "unavailable", "the destination cannot read its actions right now; retry") from None
        except ActionsError:
            logger.exception("actions file invalid")
            raise RequestError(503, MISCONFIGURED, "the destination's actions file is invalid; retry") from None

    def _read_secrets(self) -> tuple[str, ...]:
        return self._secret(self._webhook_secrets, "webhook secrets")

    @staticmethod
    def _secret(read: Callable[[], tuple[str, ...]], what: str) -> tuple[str, ...]:
        try:
            return read()
        except MisconfiguredParameterError as exc:
            raise _misconfigured(exc) from None
        except GetParameterError:
            logger.exception(f"{what} unreadable")
            raise RequestError(503, "unavailable", f"the destination cannot check {what} right now; retry") from None

    def _unlearn_forgotten(self, people: list[_Person], forgotten: dict[str, int]) -> None:
        """A person forgotten more recently than this function's memory lasts may be remembered here from
        before: their contact was deleted, so what we know of it goes (a returning person is written anew)."""
        if not forgotten:
            return
        since_ms = (time.time() - self._settings.cache_ttl_seconds) * 1000
        for person in people:
            if any(forgotten.get(person_id, 0) > since_ms for work in person.works for person_id in work.ids):
                self._deliverer.unlearn(_identity_keys_of(person.works))

    def _recall_identity(self, people: list[_Person], found: dict[str, Person]) -> None:
        """What the person records know of this request's contacts and companies, into the warm map."""
        for person in people:
            self._deliverer.recall(found[person.key].record.recalled(_identity_keys_of(person.works)))

    def _remember(self, outcomes: list[tuple[_Work, _Outcome]], person_of: dict[int, Person]) -> None:
        """Count the messages that now wait for a passing failure on their person's records; then per person,
        in one update of their primary record, the identify and group versions applied (newest wins) and
        what the identity map learned or proved wrong, and their other names pointed to it. Best effort:
        People logs what it cannot write."""
        waiting = [
            outcome.message
            for _, outcome in outcomes
            if outcome.name == "queued" and outcome.message and outcome.message.last_error.code != WAITS_FOR_LATER_EVENT
        ]
        if waiting:
            self._people.queued(waiting, time.time())
        by_person: dict[str, tuple[Person, list[tuple[_Work, _Outcome]]]] = {}
        for work, outcome in outcomes:
            if outcome.name != "forgotten":  # nothing of theirs is written after their forget
                person = person_of[work.index]
                by_person.setdefault(person.primary, (person, []))[1].append((work, outcome))
        self._people.remember([
            person.remembered(
                [work.version for work, outcome in done if work.version and outcome.applied],
                person.record.changes(self._deliverer.identity(_identity_keys_of([work for work, _ in done]))),
            )
            for person, done in by_person.values()
        ])  # fmt: skip

    def _read_people(self, people: list[_Person]) -> tuple[dict[str, Person], dict[str, int]]:
        """One read (BatchGetItem per 100) for every person of this request with something to deliver: the
        records of all their names, and which of their ids were forgotten (when). Unreadable means no
        staleness, waiting or forgotten check (deliver as if nothing were recorded), never a refused event."""
        active = [person for person in people if any(not isinstance(work.plan, Skip) for work in person.works)]
        ids = [person_id for person in active for work in person.works for person_id in work.ids]
        try:
            found, forgotten = (
                self._people.lookup({person.key: person.keys for person in active}, ids) if active else ({}, {})
            )
        except (BotoCoreError, ClientError):
            logger.exception("person records unreadable; no staleness or forgotten check this request")
            found, forgotten = {}, {}
        return {person.key: found.get(person.key) or Person(person.key, Applied(), []) for person in people}, forgotten

    def _handle_person(
        self,
        queue: list[_Work],
        claims: dict[int, Claim],
        person: Person,
        forgotten: dict[str, int],
        deadline: float,
        received_at: datetime,
    ) -> list[tuple[_Work, _Outcome]]:
        """One person's events in order: skip, de-duplicate, deliver, or queue behind an earlier failure.
        Every Intercom call ends by the deadline (intercom.deadline), not only starts before it."""
        with intercom.deadline(deadline):
            results: list[tuple[_Work, _Outcome]] = []
            applied, now = person.record, time.time()
            group = person.queue_group(now)  # one message group per person: behind what waits, if anything
            queued_before = applied.has_waiting(now)  # behind what earlier requests queued
            for work in queue:
                if isinstance(work.plan, Skip):
                    results.append((work, _Outcome("skipped")))
                    continue
                claim = claims[work.index]
                if claim is not Claim.NEW:
                    results.append((work, _Outcome("duplicate" if claim is Claim.DONE else "busy")))
                    continue
                if any(forgotten.get(person_id, -1) >= work.occurred_ms for person_id in work.ids):
                    results.append((work, _Outcome("forgotten")))  # a resend of what was erased
                    continue
                if work.version and applied.is_stale(work.version):  # a newer identify/group was applied
                    results.append((work, _Outcome("stale")))
                    continue
                if queued_before or self._clock() >= deadline:
                    code, text = (
                        ("queued_behind", "an earlier event of this person is queued")
                        if queued_before
                        else ("deferred", "not delivered within the time budget")
                    )
                    message = _queued(work, group, received_at, DeliveryError(RetryableError(None, code, text)))
                    results.append((work, _Outcome("queued", message)))
                    queued_before = True
                    continue
                try:
                    if isinstance(work.plan, Unmappable):
                        raise DeliveryError(PermanentError(None, "mapping_error", work.plan.error))
                    nothing_to_do = self._deliverer.deliver(work.plan)
                except DeliveryError as failure:
                    if work.version and failure.step == COMPANY_WRITTEN:
                        applied.note(work.version)  # the company was written: an older group must not undo it
                    message = _queued(work, group, received_at, failure)
                    if failure.error.retryable:
                        results.append((work, _Outcome("queued", message)))
                        # A contact not in Intercom yet waits for a later event (the identify): never behind it.
                        queued_before = queued_before or failure.error.code != WAITS_FOR_LATER_EVENT
                    else:
                        results.append((work, _Outcome("parked", message.parked())))
                    continue
                except Exception as exc:  # an answer we did not foresee: keep the event, the redrive tries again
                    logger.exception("delivery failed unexpectedly; queueing", extra={"message_id": work.message_id})
                    error = RetryableError(None, "internal_error", f"{type(exc).__name__}: {str(exc)[:200]}")
                    results.append((work, _Outcome("queued", _queued(work, group, received_at, DeliveryError(error)))))
                    queued_before = True
                    continue
                if work.version:
                    applied.note(work.version)
                if nothing_to_do:  # a Merge Lead for a visitor we made no lead for: counted, not an error
                    logger.info("nothing to merge", extra={"message_id": work.message_id, "reason": nothing_to_do})
                results.append((work, _Outcome("no_lead" if nothing_to_do else "delivered")))
            return results

    def _claim(self, prepared: list[_Work]) -> dict[int, Claim]:
        """Claim every event to deliver, in batches, before the first Intercom call (by batch index). The
        second copy of a messageId in one request is a duplicate of the first; if the table is
        unreachable, nothing is delivered that could not be de-duplicated (503, the SDK resends)."""
        owners: dict[str, int] = {}
        tags_of: dict[str, list[str]] = {}
        for work in prepared:
            if not isinstance(work.plan, Skip) and work.key not in owners:
                owners[work.key], tags_of[work.key] = work.index, work.tags
        try:
            by_key = self._dedupe.claim(tags_of)
        except (BotoCoreError, ClientError):
            logger.exception("idempotency claims failed", extra={"events": len(owners)})
            by_key = dict.fromkeys(owners, Claim.BUSY)
        return {
            work.index: by_key[work.key] if owners[work.key] == work.index else Claim.DONE
            for work in prepared
            if work.key in owners
        }

    def _make_durable(self, outcomes: list[tuple[_Work, _Outcome]]) -> None:
        """Send queued and parked events (SendMessageBatch, in parallel); then complete the claims of what is
        delivered or durable, in batches. Events SQS refused are released and answered as not accepted,
        so the SDK resends exactly those (the others are duplicates by then)."""
        released = []
        for name, queue in (("queued", self._dead_letters), ("parked", self._parking)):
            pending = [index for index, (_, outcome) in enumerate(outcomes) if outcome.name == name]
            refused = queue.send([message for index in pending if (message := outcomes[index][1].message)])
            if refused:
                logger.error("queue refused events", extra={"queue": name, "events": len(refused)})
            for position in refused:
                work = outcomes[pending[position]][0]
                released.append(work.key)
                outcomes[pending[position]] = (work, _Outcome("busy"))
        final = ("delivered", "no_lead", "stale", "forgotten", "queued", "parked")
        done = [
            (work, outcome.name) for work, outcome in outcomes if outcome.name in final and work.key not in released
        ]
        # A forgotten person's record keeps no tags: nothing of theirs is written after their forget.
        tags_of = {work.key: work.tags for work, name in done if name != "forgotten"}
        # An unrecorded completion only means a resend within the claim's lifetime is answered 503, and a
        # later one is delivered again (upserts; Intercom drops a repeated event of the same second).
        self._durability_call(
            "completion", lambda: self._dedupe.complete({work.key: name for work, name in done}, tags_of)
        )
        # A claim not released expires after the budget, then frees the event for the resend.
        self._durability_call("release", lambda: self._dedupe.release(released))

    def _durability_call(self, what: str, call: Callable[[], list[str]]) -> None:
        try:
            failed = call()
        except (BotoCoreError, ClientError):
            logger.exception(f"idempotency {what} failed")
            return
        if failed:
            logger.warning(f"idempotency {what} incomplete", extra={"events": len(failed)})

    def _record(self, report: Report, work: _Work, outcome: _Outcome) -> None:
        report.counts[f"{work.call_type}.{outcome.name}"] += 1
        log = {"message_id": work.message_id, "index": work.index, "type": work.call_type, "outcome": outcome.name}
        if outcome.name == "busy":
            report.failed.append(
                ItemError(work.index, work.message_id, "(event)", "not_accepted", "could not be made durable; resend")
            )
            logger.warning("event not accepted", extra=log)
        elif outcome.message is not None:
            error = outcome.message.last_error
            if outcome.name == "parked":
                report.counts[f"parked.{error.code}"] += 1  # e.g. email_owned_by_other_user, for an alarm
            if error.status in (401, 403):
                report.counts["intercom_unauthorized"] += 1  # a revoked token: an alarm, events wait queued
            log |= {
                "person": outcome.message.person[:16],  # the message group: a hash, never the ids themselves
                "status": error.status,
                "code": error.code,
                "error": error.message,
                "next": _NEXT[outcome.name],
            }
            logger.warning("event queued" if outcome.name == "queued" else "event parked", extra=log)
        elif isinstance(work.plan, Skip):
            logger.debug("event skipped", extra={**log, "reason": work.plan.reason})


def prepare(
    item: Item, caller: Caller, received_at: datetime, report: Report, actions: ActionSet, settings: Settings
) -> list[_Work]:
    """Validate one event and map it with each action it fires (one work each, in the file's order);
    problems are recorded against its index and it is left out."""
    index, data = item.index, item.data
    message_id = _message_id(data)
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
            key, received_ms = idempotency_key(caller.key, data), _unix_ms(received_at)
            return [_Work(index, message_id, call_type, unmappable, data, key, received_ms, tuple(person_ids(data)))]
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
) -> _Work:
    occurred_ms, ids = _unix_ms(call.occurred_at(received_at)), tuple(person_ids(data))
    if isinstance(action, Skip):
        return _Work(index, message_id, call.type, action, data, key, occurred_ms, ids)
    key += action.dedupe_suffix(call.type)
    try:
        plan = scoped(map_call(call, received_at, lead_handling, action, data), browser)
    except Exception as exc:  # a bug of ours must not cost the batch: park it, fix, unpark
        logger.exception("event could not be mapped; parking it", extra={"message_id": message_id})
        unmappable = Unmappable(f"{type(exc).__name__}: {str(exc)[:200]}")
        return _Work(index, message_id, call.type, unmappable, data, key, occurred_ms, ids, action=action)
    version = version_of(plan, call, received_at)
    return _Work(index, message_id, call.type, plan, data, key, occurred_ms, ids, version, action, browser)


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
    preview = Preview(events=[events[index] for index in sorted(events)], errors=sorted(report.rejected, key=_by_index))
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


def _fired(actions: ActionSet, call: AnyCall, data: dict[str, Any]) -> list[Action | Skip]:
    if not integrations_allow(call.integrations):
        return [Skip("integrations object turns Intercom off")]
    fired: list[Action | Skip] = [*actions.fired(data)]
    return fired or [Skip(f"no action's trigger matches this {call.type}")]


def _identity_keys_of(works: list[_Work]) -> list[str]:
    return list(
        dict.fromkeys(key for work in works if not isinstance(work.plan, Unmappable) for key in keys_of(work.plan))
    )


def _unix_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _message_id(data: Any) -> str | None:
    """The messageId to echo in errors and logs, if it is a plain value (it may be anything)."""
    value = data.get("messageId") if isinstance(data, dict) else None
    return str(value)[:100] if isinstance(value, str | int | float) and not isinstance(value, bool) else None


def _queued(work: _Work, group: str, received_at: datetime, failure: DeliveryError) -> QueuedEvent:
    error = failure.error
    return QueuedEvent(
        event=work.event,
        action=work.call_type,
        step=failure.step,
        state=failure.state,
        idempotency_key=work.key,
        person=group,
        received_at=received_at.isoformat(),
        first_failed_at=datetime.now(UTC).isoformat(),
        last_error=LastError(error.status, error.code, error.message),
        mapped_by=work.action.spec() if work.action else None,
        browser=work.browser,
    )


@dataclass
class _Person:
    """One person's events of a request, in request order, and every name they go by in it."""

    name: str  # the most stable of `names` (identity.primary_name)
    names: list[str]
    works: list[_Work]

    @property
    def key(self) -> str:
        """Its primary name's record key (and message group, unless it is linked or waits elsewhere)."""
        return person_group(self.name)

    @property
    def keys(self) -> list[str]:
        return [person_group(name) for name in self.names]


def person_queues(prepared: list[_Work]) -> list[_Person]:
    """Events that share a userId, anonymousId or email belong to one person, kept in request order (a
    visitor's lead identify, then their signup); different people are handled concurrently."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    names_of = []
    for work in prepared:
        names = person_names(work.event) or [f"event:{work.key}"]
        for name in names[1:]:
            parent[root(name)] = root(names[0])
        names_of.append(names)
    people: dict[str, tuple[list[_Work], dict[str, None]]] = {}
    for work, names in zip(prepared, names_of, strict=True):
        works, known = people.setdefault(root(names[0]), ([], {}))
        works.append(work)
        known.update(dict.fromkeys(names))
    return [_Person(primary_name(known), list(known), works) for works, known in people.values()]
