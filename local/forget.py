"""`make forget USER_ID=u-1` (and/or `EMAIL=ada@example.com`): forget a person in the running `make dev`
stack with the real forget function, and print what was removed. Uses `make dev`'s ports (SANDBOX_PORT,
AWS_PORT) like `make replay`."""

from __future__ import annotations

import os
import sys

from local import environment, stack


def main() -> None:
    user_id, email = os.environ.get("USER_ID") or None, os.environ.get("EMAIL") or None
    if not user_id and not email:
        sys.exit("usage: make forget USER_ID=u-1   (or EMAIL=ada@example.com, or both)")
    _, api_base = stack.attach_to_dev()
    result = stack.invoke(stack.load_forget(), {"userId": user_id, "email": email}, name="forget")
    print(result["summary"])
    print(f"Intercom region: {environment.settings().intercom_region} ({api_base})")


if __name__ == "__main__":
    main()
