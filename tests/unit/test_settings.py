"""Settings: every variable validated once, each bad one named in the error."""

from __future__ import annotations

import pytest
from dr_testing import BASE_ENV

from rds_snapshot_dr import handler
from rds_snapshot_dr.core.settings import SettingsError, load_settings


def test_valid_environment_builds_typed_settings():
    settings = load_settings(
        {**BASE_ENV, "DB_INSTANCE_IDENTIFIERS": " Orders-DB , billing-db,,", "SELECTION_TAGS": '{"a": "b"}'}
    )

    assert settings.db_instance_identifiers == ("orders-db", "billing-db")
    assert settings.selection_tags == {"a": "b"}
    assert settings.keep_last == 1
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SOURCE_REGION", "Europe"),
        ("DESTINATION_REGION", "us-east-1"),  # same as the source
        ("DESTINATION_KMS_KEY_ARN", "alias/dr"),
        ("DESTINATION_KMS_KEY_ARN", "arn:aws:kms:eu-west-1:123456789012:key/abc"),  # wrong region
        ("SNAPSHOT_PREFIX", "DR"),
        ("SNAPSHOT_PREFIX", "dr--x"),
        ("SNAPSHOT_PREFIX", "dr-"),
        ("SNAPSHOT_PREFIX", "d" * 101),
        ("OWNER_TAG_KEY", ""),
        ("OWNER_TAG_VALUE", " "),
        ("DB_INSTANCE_IDENTIFIERS", "1bad"),
        ("DB_CLUSTER_IDENTIFIERS", "bad--name"),
        ("SELECTION_TAGS", "[1]"),
        ("SELECTION_TAGS", "{not json"),
        ("SNAPSHOT_TAGS", '{"rds-snapshot-dr:owner": "x"}'),
        ("SNAPSHOT_TAGS", '{"n": 1}'),
        ("SOURCE_RETENTION_DAYS", "0"),
        ("SOURCE_RETENTION_DAYS", "15"),  # above DESTINATION_RETENTION_DAYS (14)
        ("DESTINATION_RETENTION_DAYS", "seven"),
        ("KEEP_LAST", "0"),
        ("COPY_CONCURRENCY_LIMIT", "21"),
        ("METRICS_NAMESPACE", "AWS/RDS"),
        ("TIME_BUDGET_RESERVE_MS", "-1"),
        ("BOTO_MAX_ATTEMPTS", "11"),
        ("BOTO_RETRY_MODE", "legacy"),
        ("LOG_LEVEL", "TRACE"),
        ("BACKUP_SCHEDULE_EXPRESSION", "daily"),
        ("RDS_API_REQUESTS_PER_SECOND", "0"),
        ("RDS_API_REQUESTS_PER_SECOND", "fast"),
        ("RDS_API_REQUESTS_PER_SECOND", "301"),
        ("RDS_API_CONCURRENT_INVOCATIONS", "0"),
    ],
)
def test_bad_variable_is_named_in_the_error(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({**BASE_ENV, name: value})


@pytest.mark.parametrize("name", sorted(BASE_ENV))
def test_missing_variable_is_named_in_the_error(name):
    env = dict(BASE_ENV)
    del env[name]
    with pytest.raises(SettingsError, match=f"{name}: is not set"):
        load_settings(env)


def test_no_targets_at_all_is_an_error():
    with pytest.raises(SettingsError, match="no targets"):
        load_settings({**BASE_ENV, "DB_INSTANCE_IDENTIFIERS": "", "DB_CLUSTER_IDENTIFIERS": "", "SELECTION_TAGS": "{}"})


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(SettingsError) as raised:
        load_settings({**BASE_ENV, "KEEP_LAST": "0", "LOG_LEVEL": "LOUD"})
    assert "KEEP_LAST" in str(raised.value)
    assert "LOG_LEVEL" in str(raised.value)


def test_settings_are_read_once_per_container(env, monkeypatch):
    first = handler.current_settings()
    monkeypatch.setenv("KEEP_LAST", "0")  # a change after cold start is not re-read

    assert handler.current_settings() is first


def test_handler_fails_with_the_variable_name_on_bad_settings(env, lambda_context):
    env(BOTO_RETRY_MODE="legacy")

    with pytest.raises(SettingsError, match="BOTO_RETRY_MODE"):
        handler.lambda_handler({"action": "reconcile"}, lambda_context)


def test_aws_clients_retry_as_configured_and_bound_each_attempt():
    from rds_snapshot_dr.gateway.aws import ClientFactory

    client = ClientFactory().client("rds", "us-east-1", "adaptive", 3)

    assert client.meta.config.retries["mode"] == "adaptive"
    assert client.meta.config.retries["total_max_attempts"] == 3  # BOTO_MAX_ATTEMPTS counts the first call
    assert client.meta.config.connect_timeout == 5
    assert client.meta.config.read_timeout == 15


def test_rate_budget_is_shared_by_the_concurrent_invocations():
    settings = load_settings({**BASE_ENV, "RDS_API_REQUESTS_PER_SECOND": "4", "RDS_API_CONCURRENT_INVOCATIONS": "2"})
    assert settings.rds_api_requests_per_second == 4.0
    assert settings.rds_api_rate_per_invocation == 2.0
    assert settings.rds_api_burst == 2.0


def test_a_small_share_still_sends_one_request_at_a_time():
    settings = load_settings({**BASE_ENV, "RDS_API_REQUESTS_PER_SECOND": "1.5", "RDS_API_CONCURRENT_INVOCATIONS": "3"})
    assert settings.rds_api_rate_per_invocation == 0.5
    assert settings.rds_api_burst == 1.0


def test_bad_rate_budget_error_says_what_is_allowed():
    with pytest.raises(SettingsError, match=r"RDS_API_REQUESTS_PER_SECOND: must be greater than 0 and at most 300"):
        load_settings({**BASE_ENV, "RDS_API_REQUESTS_PER_SECOND": "-2"})
