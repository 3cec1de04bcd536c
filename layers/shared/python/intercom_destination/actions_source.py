"""The actions in force: an SSM parameter's JSON in AWS (re-read every five minutes, so mappings change
without a redeploy), else the file ACTIONS_FILE names, else the default file shipped in the layer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from aws_lambda_powertools import Logger

from intercom_destination.mapping.actions import DEFAULT_FILE, ActionsError, ActionSet, load_actions

logger = Logger(child=True)


class ActionsSource:
    """A file is read and validated once; a parameter on each read of it (powertools caches the value), and
    a new value that is invalid is refused: the last valid actions stay in force and the error is logged.
    Only when no valid actions were ever read does a call raise ActionsError."""

    def __init__(self, file: str | None, parameter: str | None, read_parameter: Callable[[str], str]) -> None:
        self._parameter = parameter
        self._read_parameter = read_parameter
        self._file = Path(file) if file else DEFAULT_FILE
        self._lock = threading.Lock()
        self._text: str | None = None
        self._valid: ActionSet | None = None

    def __call__(self) -> ActionSet:
        if self._parameter is None:
            if self._valid is None:
                try:
                    text = self._file.read_text(encoding="utf-8")
                except OSError as exc:
                    raise ActionsError(str(self._file), [f"unreadable: {exc.strerror}"]) from None
                self._valid = load_actions(text, str(self._file))
            return self._valid
        text = self._read_parameter(self._parameter)
        with self._lock:
            if text != self._text:
                self._text = text
                try:
                    self._valid = load_actions(text, f"SSM parameter {self._parameter}")
                except ActionsError as exc:
                    logger.error("new actions refused; the last valid ones stay in force", extra={"error": str(exc)})
                    if self._valid is None:
                        raise
            if self._valid is None:
                raise ActionsError(f"SSM parameter {self._parameter}", ["no valid actions read yet"])
            return self._valid
