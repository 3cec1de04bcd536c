"""How many times the redrive tried a queued message and failed: the count it backs off by and parks by.

SQS's ApproximateReceiveCount is not that count. It also rises for receives that tried nothing: a
forget scanning the queue for one person's messages receives everyone's, and the redrive itself
receives and releases untried a person's later messages behind a failed one, or when a rate-limit
pause or its budget ends a round. Counting those, ten forgets during a backlog would park other
people's events untried. So each failed try is counted here, in the idempotency table, one item per
SQS message (its MessageId), written only when a try fails; SQS's own maxReceiveCount stays as a high
safety net for a message that kills the function before it can be counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from intercom_destination.durability.people import RETENTION_SECONDS

logger = Logger(child=True)
_TRIES = "intercom-destination#tries#"


class Tries:
    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self._dynamodb = client
        self._table = table
        self._clock = clock

    def failed(self, message_id: str, receive_count: int) -> int:
        """One more failed try of this message; how many there were. If the count cannot be written, the
        receive count stands in (it is never lower), so a message is parked sooner, never retried forever."""
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": _TRIES + message_id}},
                UpdateExpression="ADD tries :one SET expiration = :e",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":e": {"N": str(int(self._clock()) + RETENTION_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning("try count not written; the receive count stands in", extra={"error": str(exc)[:300]})
            return receive_count
        return int(response["Attributes"]["tries"]["N"])
