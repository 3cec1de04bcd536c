"""The deploy contract of template.yaml that cfn-lint does not check (parsed with cfn-lint's own loader)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from intercom_destination.config.settings import Settings
from intercom_destination.forget.service import SCAN_SECONDS
from intercom_destination.intercom.calls import Call
from intercom_destination.telemetry import add_intercom_metrics


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


def test_the_largest_event_allowed_fits_one_queue_message(template: dict[str, Any]) -> None:
    """An event is counted as UTF-8 at intake and queued as UTF-8 (queue.QueuedEvent.to_json) with an
    envelope of a few KB; SQS's largest message, 1 MiB, is set on both queues (docs/deploy-checks.md)."""
    largest_event = template["Parameters"]["MaxEventBytes"]["MaxValue"]
    for queue in ("DeadLetterQueue", "ParkingQueue"):
        size = template["Resources"][queue]["Properties"]["MaximumMessageSize"]
        assert size == 1_048_576, queue
        assert largest_event + 64 * 1024 <= size, queue


def test_the_queues_take_an_outage_of_many_small_requests(template: dict[str, Any]) -> None:
    """Plain FIFO takes 300 calls a second per action; high-throughput mode (deduplication and the quota
    per message group) takes far more, and our deduplication ids are unique per message anyway."""
    for queue in ("DeadLetterQueue", "ParkingQueue"):
        properties = template["Resources"][queue]["Properties"]
        assert (properties["DeduplicationScope"], properties["FifoThroughputLimit"]) == (
            "messageGroup",
            "perMessageGroupId",
        ), queue


def test_queue_names_fit_sqs_for_any_stack_name_the_readme_allows(template: dict[str, Any]) -> None:
    """SQS queue names are at most 80 characters, and ours are the stack's name plus a suffix: the README
    bounds the stack name at 67 characters."""
    for queue in ("DeadLetterQueue", "ParkingQueue"):
        name = template["Resources"][queue]["Properties"]["QueueName"]["Fn::Sub"]
        assert len(name.replace("${AWS::StackName}", "s" * 67)) <= 80, name


def test_the_api_access_log_group_is_a_vended_logs_group(template: dict[str, Any]) -> None:
    name = template["Resources"]["ApiAccessLogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"]
    assert name.startswith("/aws/vendedlogs/")


def test_a_backlog_that_grows_for_15_minutes_raises_an_alarm(template: dict[str, Any]) -> None:
    """Traffic above what Intercom's rate limit drains grows the queue without end, and SQS drops messages
    after 14 days, silently: the alarm fires on the backlog's growth, before its age does."""
    alarm = template["Resources"]["DeadLetterBacklogGrowingAlarm"]["Properties"]
    backlog, growth = alarm["Metrics"]
    metric = backlog["MetricStat"]["Metric"]
    assert (metric["Namespace"], metric["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    assert (growth["Expression"], growth["ReturnData"]) == ("RATE(backlog)", True)
    assert backlog["MetricStat"]["Period"] * alarm["EvaluationPeriods"] == 900 == 300 * alarm["DatapointsToAlarm"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_a_misconfigured_destination_raises_an_alarm(template: dict[str, Any]) -> None:
    """Ingest counts each `misconfigured` answer (a missing or unreadable SSM parameter, an invalid actions
    file) as a metric of that name; the alarm watches it."""
    from intercom_destination.ingest.report import MISCONFIGURED

    alarm = template["Resources"]["IngestMisconfiguredAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("IntercomDestination", MISCONFIGURED, 0)


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


def test_the_ingest_role_may_run_the_claims_partiql_inserts(template: dict[str, Any]) -> None:
    """BatchExecuteStatement is authorized per statement kind: an INSERT needs dynamodb:PartiQLInsert on the
    table (DynamoDB Developer Guide, "IAM security policies with PartiQL for DynamoDB"); PutItem does not
    grant it. Without it every claim falls back to one PutItem per event (slower, same guarantees)."""
    ingest = template["Resources"]["IngestFunction"]["Properties"]
    grants = [grant for grant in ingest["Policies"][0]["Statement"] if "dynamodb:PutItem" in grant.get("Action", [])]
    (table_grant,) = grants
    assert {"dynamodb:PartiQLInsert", "dynamodb:PutItem", "dynamodb:GetItem"} <= set(table_grant["Action"])
    assert table_grant["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}


BACKFILL = ("BackfillBucket", "BackfillQueue", "BackfillFailedQueue", "BackfillFunction", "BackfillLogGroup")


def test_the_backfill_is_created_only_when_enabled(template: dict[str, Any]) -> None:
    """Backfill=disabled (the default) creates none of it; a bucket only when none is named."""
    resources = template["Resources"]
    assert template["Parameters"]["Backfill"]["Default"] == "disabled"
    assert {name: resources[name]["Condition"] for name in BACKFILL} == {
        "BackfillBucket": "CreateBackfillBucket",
        **{name: "EnableBackfill" for name in BACKFILL if name != "BackfillBucket"},
    }
    for name, resource in resources.items():
        if name.startswith("Backfill"):
            assert resource.get("Condition") in ("EnableBackfill", "CreateBackfillBucket"), name


def test_a_backfill_worker_hands_its_part_on_before_the_queue_shows_it_again(template: dict[str, Any]) -> None:
    """An SQS event source needs the queue's visibility timeout at least the function's timeout (CloudFormation
    refuses less); Lambda's guide advises six times it. A worker stops with MARGIN_SECONDS left, more than a
    chunk's budget, so its checkpoint and the hand-on message are written in time."""
    from functions.backfill.app import MARGIN_SECONDS

    worker = template["Resources"]["BackfillFunction"]["Properties"]
    queue = template["Resources"]["BackfillQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert worker["Timeout"] <= 900  # Lambda's maximum
    assert 2 * Settings().backfill_chunk_seconds <= MARGIN_SECONDS
    (source,) = worker["Events"].values()
    assert source["Properties"]["BatchSize"] == 1
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "BackfillWorkers"}
    workers = template["Parameters"]["BackfillWorkers"]
    assert (workers["MinValue"], workers["MaxValue"]) == (2, 1000)  # ScalingConfig's own bounds


def test_the_backfill_bucket_is_private_and_kept(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["BackfillBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert set(bucket["Properties"]["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]


@pytest.mark.parametrize(
    ("value", "allowed"), [("", True), ("0.5", True), ("1", True), (".25", True), ("0", False), ("1.5", False)]
)
def test_the_backfill_share_is_a_share(template: dict[str, Any], value: str, allowed: bool) -> None:
    pattern = template["Parameters"]["BackfillShare"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is allowed
