"""Secrets (write keys, the Intercom token) from the environment locally, from SSM Parameter Store in AWS.

Parameters are cached by powertools for `max_age` seconds, so a rotated key or token is picked up by warm
functions within five minutes without a redeploy.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from .settings import Settings, split_keys

SECRET_MAX_AGE_SECONDS = 300


class MissingSecretError(RuntimeError):
    """The deployment is misconfigured: neither the value nor a parameter name is set."""


def _parameter(name: str) -> str:
    value = parameters.get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    return str(value)


def write_keys(settings: Settings) -> tuple[str, ...]:
    if settings.write_keys:
        return settings.write_keys
    if settings.write_keys_parameter:
        return split_keys(_parameter(settings.write_keys_parameter))
    raise MissingSecretError("set WRITE_KEYS or WRITE_KEYS_PARAMETER")


def intercom_token(settings: Settings) -> str:
    if settings.intercom_access_token:
        return settings.intercom_access_token
    if settings.intercom_token_parameter:
        return _parameter(settings.intercom_token_parameter).strip()
    raise MissingSecretError("set INTERCOM_ACCESS_TOKEN or INTERCOM_TOKEN_PARAMETER")
