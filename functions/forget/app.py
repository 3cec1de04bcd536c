"""Forget function: deletes a person everywhere this destination can reach, for privacy law's right to
erasure. An operator invokes it (`sam remote invoke ForgetFunction --event '{"userId": "u-1"}'`, or
`{"email": "…"}`, or both); it has no HTTP route, so no write key can reach it. Returns what it removed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from intercom_destination.wiring import forget_service

logger = Logger()


@logger.inject_lambda_context(clear_state=True)  # the event (an id, an email) is never logged
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    forgotten = forget_service().forget(user_id=event.get("userId"), email=event.get("email"))
    return {**forgotten.as_dict(), "summary": forgotten.describe()}
