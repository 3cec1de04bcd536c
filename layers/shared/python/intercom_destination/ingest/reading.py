"""Reading a request: who sent it (a write key, or a webhook's signature) and the events in its body; and
the actions in force. SSM unreachable or misconfigured is ours, never the caller's fault: a 503."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from intercom_destination.config.secrets import MisconfiguredParameterError
from intercom_destination.config.settings import Settings
from intercom_destination.ingest.report import MISCONFIGURED, misconfigured
from intercom_destination.intake.inbound import (
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
from intercom_destination.mapping.actions import ActionsError, ActionSet

logger = Logger(child=True)


class RequestReader:
    def __init__(
        self,
        settings: Settings,
        accepted_keys: Callable[[], tuple[str, ...]],
        webhook_secrets: Callable[[], tuple[str, ...]],
        actions: Callable[[], ActionSet],
    ) -> None:
        self._settings = settings
        self._accepted_keys = accepted_keys
        self._webhook_secrets = webhook_secrets
        self._read_actions = actions

    def read(self, path_kind: str, request: RawRequest) -> tuple[Caller, list[Item]]:
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

    def _read_keys(self) -> tuple[str, ...]:
        """The accepted write keys; SSM unreachable is our outage, not the caller's fault: 503, resend."""
        return self._secret(self._accepted_keys, "write keys")

    def actions(self) -> ActionSet:
        """The actions in force; unreadable or invalid (with no valid one before it) is ours to fix: 503,
        and the SDKs keep the events until it is."""
        try:
            return self._read_actions()
        except MisconfiguredParameterError as exc:
            raise misconfigured(exc) from None
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
            raise misconfigured(exc) from None
        except GetParameterError:
            logger.exception(f"{what} unreadable")
            raise RequestError(503, "unavailable", f"the destination cannot check {what} right now; retry") from None
