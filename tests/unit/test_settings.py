"""Settings come from environment variables, and template.yaml declares exactly those the code reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from intercom_destination.config.settings import AttributePolicy, LeadHandling, Settings
from pydantic import ValidationError

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub and friends as plain values."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CloudFormationLoader)  # noqa: S506


def test_defaults_and_parsing() -> None:
    settings = Settings.from_env({
        "WRITE_KEYS": "a, b\nc",
        "INTERCOM_REGION": "eu",
        "CUSTOM_ATTRIBUTE_POLICY": "drop",
        "LEAD_HANDLING": "",
    })  # fmt: skip
    assert settings.write_keys == ("a", "b", "c")
    assert settings.api_base == "https://api.eu.intercom.io"
    assert settings.custom_attribute_policy is AttributePolicy.DROP
    assert settings.lead_handling is LeadHandling.LEAD
    assert settings.intercom_version == "2.16"
    assert Settings.from_env({"INTERCOM_API_BASE": "http://sandbox/"}).api_base == "http://sandbox"


def test_bad_settings_fail_at_start() -> None:
    with pytest.raises(ValidationError, match="INTERCOM_REGION"):
        Settings.from_env({"INTERCOM_REGION": "MARS"})
    with pytest.raises(ValidationError):
        Settings.from_env({"CUSTOM_ATTRIBUTE_POLICY": "ignore"})


def test_the_template_sets_only_variables_settings_reads() -> None:
    readable = {name.upper() for name in Settings.model_fields}
    spec = template()
    shared = set(spec["Globals"]["Function"]["Environment"]["Variables"])
    for function in ("IngestFunction", "RedriveFunction"):
        declared = shared | set(spec["Resources"][function]["Properties"]["Environment"]["Variables"])
        assert {name for name in declared if not name.startswith(("POWERTOOLS_", "AWS_"))} <= readable, function
        assert {"INTERCOM_REGION", "INTERCOM_VERSION", "DEAD_LETTER_QUEUE_URL", "PARKING_QUEUE_URL"} <= declared
    ingest = spec["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert {"IDEMPOTENCY_TABLE", "WRITE_KEYS_PARAMETER", "DELIVERY_BUDGET_SECONDS"} <= set(ingest)


def test_the_queues_are_fifo_with_a_parking_redrive_policy() -> None:
    resources = template()["Resources"]
    assert resources["DeadLetterQueue"]["Properties"]["FifoQueue"] is True
    assert resources["ParkingQueue"]["Properties"]["FifoQueue"] is True
    assert "maxReceiveCount" in resources["DeadLetterQueue"]["Properties"]["RedrivePolicy"]
    for queue in ("DeadLetterQueue", "ParkingQueue"):
        properties = resources[queue]["Properties"]
        assert (properties["SqsManagedSseEnabled"], properties["MessageRetentionPeriod"]) == (True, 1209600)


def test_template_choices_match_the_code() -> None:
    parameters = template()["Parameters"]
    assert set(parameters["CustomAttributePolicy"]["AllowedValues"]) == {p.value for p in AttributePolicy}
    assert set(parameters["LeadHandling"]["AllowedValues"]) == {h.value for h in LeadHandling}
    assert parameters["IntercomVersion"]["Default"] == Settings().intercom_version
