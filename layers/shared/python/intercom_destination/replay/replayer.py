"""One queued event delivered again: validated and mapped with this version's rules (and the action it was
queued with), from the step it was queued at, and never over a newer identify or group of its person."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.config.settings import Settings
from intercom_destination.delivery.deliverer import Deliverer
from intercom_destination.delivery.errors import DeliveryError, Step
from intercom_destination.delivery.identity import keys_of
from intercom_destination.durability.people import People
from intercom_destination.durability.queue import QueuedEvent
from intercom_destination.durability.record_sync import RecordSync
from intercom_destination.durability.records import Applied, Person, Version, names_of, version_of
from intercom_destination.intake import bounded_json
from intercom_destination.intake.events import FieldError, InvalidCallError, parse_call
from intercom_destination.mapping import map_call
from intercom_destination.mapping.actions import Action
from intercom_destination.mapping.plans import Plan, scoped

logger = Logger(child=True)


class Replayer:
    def __init__(self, settings: Settings, deliverer: Deliverer, people: People, records: RecordSync) -> None:
        self._settings = settings
        self._deliverer = deliverer
        self._people = people
        self._records = records

    def deliver(self, message: QueuedEvent) -> bool:
        """Validate and map again (with this version's rules), then deliver from the queued step. False
        when the event is stale: a newer identify or group of the person was applied meanwhile (a lead
        merge step is never stale: the newer identify did not merge)."""
        if found := bounded_json.problems(message.event):
            raise InvalidCallError([FieldError(field=path, message=why) for path, why in found])
        call = parse_call(message.event)
        received_at = datetime.fromisoformat(message.received_at)
        action = Action.from_spec(message.mapped_by) if message.mapped_by is not None else None
        plan = scoped(map_call(call, received_at, self._settings.lead_handling, action, message.event), message.browser)
        version = version_of(plan, call, received_at) if message.step != Step.MERGE else None
        if not version:
            self._deliverer.deliver(plan, message.step, message.state)
            return True
        person = self._person(message)
        record = person.record
        if record.is_stale(version):
            return False
        self._records.recall(person, keys_of(plan))
        try:
            self._deliverer.deliver(plan, message.step, message.state)
        except DeliveryError as failure:
            if failure.step == Step.ATTACH and message.step != Step.ATTACH:
                self._remember(person, version, plan)  # the company was written: an older group must not undo it
            raise
        self._remember(person, version, plan)
        return True

    def _remember(self, person: Person, version: Version, plan: Plan) -> None:
        """The version applied and what was written, so a new function's next identical identify is skipped
        only if it matches (and the person's other names pointed to their record)."""
        self._records.save([self._records.remembered(person, [version], keys_of(plan))])

    def _person(self, message: QueuedEvent) -> Person:
        """The message's person as ingest saw them: the records of every name its event carries, as one."""
        primary, keys = names_of(message.event, message.person)
        try:
            return self._people.lookup({primary: [*keys, message.person]})[0][primary]
        except (BotoCoreError, ClientError):
            logger.exception("person record unreadable; replaying without a staleness check")
            return Person(primary, Applied(), [])
