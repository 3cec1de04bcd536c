"""The reference tables in docs/ that describe code hold what the code has (#22 §4): every template
parameter and every setting in docs/configuration.md, every status and code the ingest endpoint answers in
docs/api.md's answers table. (The action fields table is generated: test_docs_snippets.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from intercom_destination.config.settings import Settings
from intercom_destination.intake.answers import INGEST_ANSWERS

ROOT = Path(__file__).resolve().parents[2]
#: Settings read from the template's resources rather than a parameter, or only locally (named apart).
_NOT_PARAMETERS = {"DEAD_LETTER_QUEUE_URL", "PARKING_QUEUE_URL", "IDEMPOTENCY_TABLE"}


def table_cells(page: str, header: str) -> str:
    text = (ROOT / "docs" / page).read_text()
    start = text.index(header)
    end = text.find("\n\n", start)
    return text[start : end if end != -1 else len(text)]


def test_every_template_parameter_and_setting_is_in_the_configuration_table(template: dict[str, Any]) -> None:
    table = table_cells("configuration.md", "| template parameter | environment variable |")
    named = set(re.findall(r"`(\w+)`", table))
    assert set(template["Parameters"]) - named == set()
    assert {name.upper() for name in Settings.model_fields} - named - _NOT_PARAMETERS <= set()
    assert named >= _NOT_PARAMETERS


def test_every_answer_of_the_endpoint_is_in_the_answers_table() -> None:
    table = table_cells("api.md", "| status | body | when | what SDKs do |")
    statuses = {int(status) for status in re.findall(r"`(\d{3})`", table)}
    assert set(INGEST_ANSWERS) - {404, 413, 415, 401} <= statuses
    for status, answer in INGEST_ANSWERS.items():
        for code in re.findall(r"`(\w+)`", answer["description"]):
            if (code.islower() and "_" in code) or code in ("unavailable", "forbidden", "misconfigured"):
                assert f'"{code}"' in table, (status, code)


def test_the_web_script_version_the_docs_pin_is_the_scripts() -> None:
    script = (ROOT / "functions" / "ingest" / "web" / "intercom.js").read_text()
    version = re.search(r"var VERSION = '([^']+)'", script).group(1)  # type: ignore[union-attr]
    pinned = set(re.findall(r"intercom\.js\?v=([\w.]+)", (ROOT / "docs" / "web-mode.md").read_text()))
    assert pinned == {version}
