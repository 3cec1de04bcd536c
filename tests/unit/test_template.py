"""The deploy contract of template.yaml that cfn-lint does not check (parsed with cfn-lint's own loader)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from cfnlint.decode import decode
from intercom_destination.forget import SCAN_SECONDS
from intercom_destination.intercom import Call
from intercom_destination.settings import Settings
from intercom_destination.telemetry import add_intercom_metrics

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, errors = decode(str(TEMPLATE))
    assert not errors
    assert parsed is not None
    return dict(parsed)


def test_every_parameter_is_described_bounded_and_grouped_for_the_console(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(parameters)
    for name, parameter in parameters.items():
        assert parameter.get("Description"), name
        if parameter["Type"] == "Number":
            assert {"MinValue", "MaxValue"} <= set(parameter), name


def test_stateful_resources_survive_a_stack_delete_or_replacement(template: dict[str, Any]) -> None:
    kept = {"AWS::SQS::Queue", "AWS::DynamoDB::Table"}
    for name, resource in template["Resources"].items():
        if resource["Type"] in kept:
            assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("https://api.intercom.io", True),
        ("https://proxy.example.com:8443/intercom", True),
        ("http://api.intercom.io", False),
        ("api.intercom.io", False),
        ("https://", False),
    ],
)
def test_the_token_never_goes_to_an_http_host(template: dict[str, Any], value: str, allowed: bool) -> None:
    pattern = template["Parameters"]["IntercomApiBase"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is allowed


def test_the_redrive_function_needs_no_reserved_concurrency(template: dict[str, Any]) -> None:
    assert "ReservedConcurrentExecutions" not in template["Resources"]["RedriveFunction"]["Properties"]


def test_a_redrive_round_ends_before_its_messages_become_visible_again(template: dict[str, Any]) -> None:
    """Overlapping runs are safe only if a round (and the Intercom call in flight at its end) finishes
    inside the dead-letter queue's visibility timeout; the run fits the function's timeout."""
    settings = Settings()
    redrive = template["Resources"]["RedriveFunction"]["Properties"]
    visibility = template["Resources"]["DeadLetterQueue"]["Properties"]["VisibilityTimeout"]
    assert (
        settings.redrive_round_seconds + settings.intercom_read_timeout + settings.intercom_connect_timeout < visibility
    )
    assert int(redrive["Environment"]["Variables"]["REDRIVE_BUDGET_SECONDS"]) + 30 <= redrive["Timeout"]


def test_the_redrive_parks_by_its_own_count_and_sqs_only_as_a_safety_net(template: dict[str, Any]) -> None:
    """SQS's receive count also counts receives that tried nothing (a forget's scan, releases behind a failed
    message), so the redrive parks after MaxReplays failed tries of its own count; the queue's
    maxReceiveCount (SQS allows 1 to 1,000: docs/consistency.md) stays far above it by default."""
    parameters = template["Parameters"]
    variables = template["Resources"]["RedriveFunction"]["Properties"]["Environment"]["Variables"]
    policy = template["Resources"]["DeadLetterQueue"]["Properties"]["RedrivePolicy"]
    assert variables["REDRIVE_MAX_REPLAYS"] == {"Ref": "MaxReplays"}
    assert policy["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert parameters["MaxReplays"]["Default"] == Settings().redrive_max_replays
    assert parameters["MaxReceiveCount"]["MaxValue"] == 1000 == parameters["MaxReceiveCount"]["Default"]
    assert parameters["MaxReceiveCount"]["Default"] >= 10 * parameters["MaxReplays"]["Default"]


def test_every_alarm_reaches_a_topic_cloudwatch_can_publish_to(template: dict[str, Any]) -> None:
    """CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key alias/aws/sns (its
    policy does not admit CloudWatch): the stack's topic uses a key of its own that does, or none."""
    resources = template["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    assert "alias/aws/sns" not in str(topic.get("KmsMasterKeyId"))
    assert topic["KmsMasterKeyId"] == {
        "Fn::If": ["EncryptAlarmTopic", {"Ref": "AlarmTopicKey"}, {"Ref": "AWS::NoValue"}]
    }
    statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert resources["AlarmTopicKey"]["Properties"]["EnableKeyRotation"] is True
    alarms = {name: r for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 8
    topic_or_theirs = [{"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}]
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == topic_or_theirs, name


def test_the_table_can_be_restored_to_any_second_of_the_last_35_days(template: dict[str, Any]) -> None:
    """It holds the erasure tombstones and the person records, which no queue can bring back."""
    table = template["Resources"]["IdempotencyTable"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_dashboard_body_is_json_once_substituted(template: dict[str, Any]) -> None:
    import json

    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    titles = [widget["properties"]["title"] for widget in widgets]
    assert "Queue depths" in titles
    assert "Events by type and outcome" in titles
    shown = {metric[1] for widget in widgets for metric in widget["properties"]["metrics"]}
    metrics = Metrics(namespace="IntercomDestination", service="intercom-destination")
    metrics.clear_metrics()  # shared between instances
    add_intercom_metrics(metrics, [Call(200, 0.1), Call(429, 0.1)])
    emitted = {name for name in metrics.serialize_metric_set() if name.startswith("intercom.")}
    metrics.clear_metrics()
    assert emitted == {"intercom.calls", "intercom.throttled", "intercom.failed", "intercom.latency"}
    assert emitted <= shown


def test_the_forget_function_has_no_route_and_time_for_both_queue_scans(template: dict[str, Any]) -> None:
    """No write key may reach it: no event source at all; it is invoked by an operator only. It may scan
    the table and delete in batches (the idempotency records of the person)."""
    forget = template["Resources"]["ForgetFunction"]["Properties"]
    assert "Events" not in forget
    assert forget["Timeout"] >= 2 * SCAN_SECONDS + 60
    (table_grant,) = [
        grant for grant in forget["Policies"][0]["Statement"] if "dynamodb:Scan" in grant.get("Action", [])
    ]
    assert "dynamodb:BatchWriteItem" in table_grant["Action"]
