"""Secrets (write keys, the Intercom token) and the actions parameter from the environment locally, from SSM Parameter Store in AWS.

Parameters are cached by powertools for `max_age` seconds, so a rotated key or token is picked up by warm
functions within five minutes without a redeploy.
"""

from __future__ import annotations

from functools import cache

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config
from botocore.exceptions import ClientError

from intercom_destination.config.settings import Settings, split_keys

SECRET_MAX_AGE_SECONDS = 300
#: A read sits on the request path once per five minutes: it must fail fast, inside the time budget. A burst
#: of cold starts (a deploy) can exceed SSM's default 40 reads a second: throttled reads are retried with
#: botocore's jittered backoff, which spreads them (3 attempts in all).
_SSM_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 3})
#: SSM's answers that no retry mends: the name is wrong, or the function may not read it (or its key).
_MISCONFIGURED = frozenset({"ParameterNotFound", "ParameterVersionNotFound", "AccessDeniedException"})


class MissingSecretError(RuntimeError):
    """The deployment is misconfigured: neither the value nor a parameter name is set."""


class MisconfiguredParameterError(parameters.exceptions.GetParameterError):
    """The parameter does not exist, or this function may not read it: the operator must fix the stack's
    *ParameterName parameters or the SSM parameter itself (an alarm fires); retrying will not."""


@cache
def _ssm() -> parameters.SSMProvider:
    # A client of boto3's default session, which the other clients share (not a session of its own).
    return parameters.SSMProvider(boto3_client=boto3.client("ssm", config=_SSM_CONFIG))


def forget() -> None:
    """Drop the provider and its cached values (a new execution environment, locally)."""
    _ssm.cache_clear()


def parameter(name: str) -> str:
    """A parameter's value (decrypted if a SecureString), cached for SECRET_MAX_AGE_SECONDS. Raises
    MisconfiguredParameterError when no retry can succeed, powertools' GetParameterError otherwise."""
    try:
        value = _ssm().get(name, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        cause = exc.__cause__ or exc.__context__  # powertools raises its own error inside the except
        code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
        if code in _MISCONFIGURED:
            problem = "does not exist" if code != "AccessDeniedException" else "may not be read by this function"
            raise MisconfiguredParameterError(f"SSM parameter {name!r} {problem} ({code})") from exc
        raise
    return str(value)


def write_keys(settings: Settings) -> tuple[str, ...]:
    if settings.write_keys:
        return settings.write_keys
    if settings.write_keys_parameter:
        return split_keys(parameter(settings.write_keys_parameter))
    raise MissingSecretError("set WRITE_KEYS or WRITE_KEYS_PARAMETER")


def webhook_secrets(settings: Settings) -> tuple[str, ...]:
    """Shared secrets that sign pipeline webhooks (X-Signature); none configured is fine: write keys work."""
    if settings.webhook_secrets:
        return settings.webhook_secrets
    if settings.webhook_secrets_parameter:
        return split_keys(parameter(settings.webhook_secrets_parameter))
    return ()


def intercom_token(settings: Settings) -> str:
    if settings.intercom_access_token:
        return settings.intercom_access_token
    if settings.intercom_token_parameter:
        return parameter(settings.intercom_token_parameter).strip()
    raise MissingSecretError("set INTERCOM_ACCESS_TOKEN or INTERCOM_TOKEN_PARAMETER")
