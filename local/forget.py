"""`make forget USER_ID=u-1` (and/or `EMAIL=ada@example.com`): forget a person in the running `make dev`
stack with the real forget function, and print what was removed. Uses `make dev`'s ports (SANDBOX_PORT,
AWS_PORT) like `make replay`."""

from __future__ import annotations

import os
import sys

from intercom_destination.settings import Settings

from local import stack
from local.sandbox import DEFAULT_TOKEN


def main() -> None:
    user_id, email = os.environ.get("USER_ID") or None, os.environ.get("EMAIL") or None
    if not user_id and not email:
        sys.exit("usage: make forget USER_ID=u-1   (or EMAIL=ada@example.com, or both)")
    resources = stack.provision(f"http://127.0.0.1:{os.environ.get('AWS_PORT', '3002')}")
    api_base = os.environ.get("INTERCOM_API_BASE") or f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '3001')}"
    token = os.environ.get("INTERCOM_ACCESS_TOKEN") or DEFAULT_TOKEN
    stack.configure(
        **stack.function_env(write_key="unused", intercom_api_base=api_base, intercom_token=token, resources=resources),
        POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    )
    result = stack.invoke(stack.load_forget(), {"userId": user_id, "email": email}, name="forget")
    print(result["summary"])
    print(f"Intercom region: {Settings.from_env().intercom_region} ({api_base})")


if __name__ == "__main__":
    main()
