"""A stateful Intercom REST API for local runs and tests, faithful to Intercom's OpenAPI description."""

from .control import SandboxControl
from .server import DEFAULT_TOKEN, Fault, Sandbox

__all__ = ["DEFAULT_TOKEN", "Fault", "Sandbox", "SandboxControl"]
