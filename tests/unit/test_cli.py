"""The command line: the function's actions from a workstation, with --dry-run, --wait and a clean Ctrl-C."""

from __future__ import annotations

import io
import itertools
import json
import logging
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from dr_testing import (
    BASE_ENV,
    DESTINATION_REGION,
    SOURCE_REGION,
    alter_response,
    cluster_snapshots,
    engine_client,
    instance_snapshots,
    make_cluster,
    make_instance,
    owned_tags,
)

import rds_snapshot_dr
from rds_snapshot_dr.cli import main as cli
from rds_snapshot_dr.core.logs import log_decision
from rds_snapshot_dr.gateway.aws import CLIENTS

NOW = datetime(2026, 11, 25, 14, 0, 30, tzinfo=UTC)
LAMBDA_SRC = Path(cli.__file__).resolve().parents[2]
MUTATING = ("Create", "Copy", "Delete", "AddTags", "Modify", "Restore", "Remove")


def run(*argv: str, pause: Any = None, now: datetime = NOW) -> tuple[int, str]:
    out = io.StringIO()
    pauses = pause or (lambda _seconds: None)
    code = cli.main(list(argv), pause=pauses, clock=itertools.count(0, 30).__next__, out=out, now=lambda: now)
    return code, out.getvalue()


def record_calls() -> list[str]:
    """Every RDS operation the engine's clients send, in both regions."""
    calls: list[str] = []

    def seen(model: Any, **_: Any) -> None:
        calls.append(model.name)

    for region in (SOURCE_REGION, DESTINATION_REGION):
        engine_client(region).meta.events.register("before-call.rds.*", seen)
    return calls


@pytest.fixture
def databases(source: Any, default_quotas: None) -> None:
    make_instance(source, "orders-db")
    make_cluster(source, "payments")


def owned_snapshot(source: Any, name: str, target: str = "orders-db") -> dict[str, Any]:
    return source.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=target, Tags=owned_tags(target))[
        "DBSnapshot"
    ]


# --- settings ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("databases")
def test_settings_come_from_the_deployed_functions_configuration(env, key_arn, monkeypatch, source):
    variables = {**BASE_ENV, "DESTINATION_KMS_KEY_ARN": key_arn, "SNAPSHOT_PREFIX": "fn"}
    role = boto3.client("iam").create_role(RoleName="rds-snapshot-dr-orders", AssumeRolePolicyDocument="{}")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("rds_snapshot_dr/__init__.py", "")
    boto3.client("lambda", region_name=SOURCE_REGION).create_function(
        FunctionName="rds-snapshot-dr-orders",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="rds_snapshot_dr.handler.lambda_handler",
        Code={"ZipFile": package.getvalue()},
        Environment={"Variables": variables},
    )
    for name in BASE_ENV:  # nothing from the workstation's environment
        monkeypatch.delenv(name)

    code, output = run("backup", "--function-name", "rds-snapshot-dr-orders", "--region", SOURCE_REGION)

    assert code == 0, output
    assert "fn-orders-db-20261125-1400" in instance_snapshots(source)
    assert "fn-payments-20261125-1400" in cluster_snapshots(source)


@pytest.mark.usefixtures("databases")
def test_flags_override_the_environment(source):
    code, output = run("backup", "--snapshot-prefix", "manual", "--targets", "orders-db")

    assert code == 0, output
    assert list(instance_snapshots(source)) == ["manual-orders-db-20261125-1400"]
    assert cluster_snapshots(source) == {}


@pytest.mark.usefixtures("aws")
def test_missing_settings_exit_2_naming_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("SOURCE_REGION")
    code, _ = run("reconcile")

    assert code == 2
    assert "SOURCE_REGION" in capsys.readouterr().err


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.usefixtures("aws")
def test_no_settings_at_all_point_at_function_name(monkeypatch, capsys):
    for name in BASE_ENV:
        monkeypatch.delenv(name)

    code, _ = run("reconcile")

    assert code == 2
    line = one_error_line(capsys)
    assert line.startswith("error: no settings: pass --function-name NAME")


@pytest.mark.usefixtures("aws")
def test_some_missing_settings_are_named_and_point_at_function_name(monkeypatch, capsys):
    monkeypatch.delenv("SOURCE_REGION")
    monkeypatch.delenv("DESTINATION_KMS_KEY_ARN")

    code, _ = run("reconcile")

    err = capsys.readouterr().err
    assert code == 2
    assert "SOURCE_REGION" in err
    assert "DESTINATION_KMS_KEY_ARN" in err
    assert err.strip().splitlines()[-1].startswith("Read every setting from the deployed function with --function-name")


@pytest.mark.usefixtures("aws")
def test_no_region_for_the_function_is_one_line_naming_region(monkeypatch, capsys, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setattr(CLIENTS, "_session", None)  # a session built without a region, as on a bare workstation

    code, _ = run("preflight", "--function-name", "rds-snapshot-dr-orders")

    assert code == 2
    line = one_error_line(capsys)
    assert "--region REGION" in line
    assert "AWS_REGION" in line
    assert "Invalid endpoint" not in line


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00Z", "25/11/2026 14:00"])
def test_bad_scheduled_time_is_one_line_naming_the_flag_and_format(capsys, value):
    code, _ = run("backup", "--scheduled-time", value)

    assert code == 2
    line = one_error_line(capsys)
    assert line == f"error: --scheduled-time {value!r} is not a time: use {cli.SCHEDULED_TIME_FORMAT}"


@pytest.mark.parametrize("flag", ["--wait", "--dry-run", "--poll-seconds=5"])
def test_preflight_refuses_flags_that_only_change_things(capsys, flag):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["preflight", flag])

    assert exit_.value.code == 2
    assert f"unrecognized arguments: {flag}" in capsys.readouterr().err


@pytest.mark.usefixtures("databases")
def test_a_failed_target_is_shown_once_in_the_table_not_again_as_a_log_line(env, caplog):
    env(DB_INSTANCE_IDENTIFIERS="orders-db,ghost-db")

    code, output = run("backup")

    assert code == 1
    assert sum("ghost-db" in line for line in output.splitlines() if not line.startswith("fix for")) == 1
    assert [r for r in caplog.records if getattr(r, "target", None) == "ghost-db"] == []


@pytest.mark.usefixtures("databases")
def test_log_level_flag_shows_the_decision_log_lines_too(env, caplog):
    env(DB_INSTANCE_IDENTIFIERS="orders-db,ghost-db")

    code, _ = run("backup", "--log-level", "WARNING")

    assert code == 1
    assert [r.outcome for r in caplog.records if getattr(r, "target", None) == "ghost-db"] == ["failed"]


def test_warnings_that_are_no_table_row_are_still_logged():
    row = logging.makeLogRecord({"msg": "copy deferred", "target": "orders-db", "outcome": "deferred"})
    warning = logging.makeLogRecord({"msg": "manual snapshot quota unknown", "outcome": "skipped"})

    assert cli._not_a_table_row(row) is False
    assert cli._not_a_table_row(warning) is True


# --- actions --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("databases")
def test_backup_starts_one_snapshot_per_target_and_prints_a_table(source):
    code, output = run("backup")

    assert code == 0
    assert "dr-orders-db-20261125-1400" in instance_snapshots(source)
    assert "dr-payments-20261125-1400" in cluster_snapshots(source)
    assert "TARGET" in output
    assert "started" in output


@pytest.mark.usefixtures("databases")
def test_backup_with_a_scheduled_time_names_snapshots_from_it(source):
    code, _ = run("backup", "--targets", "orders-db", "--scheduled-time", "2026-11-24T02:00:00Z")

    assert code == 0
    assert list(instance_snapshots(source)) == ["dr-orders-db-20261124-0200"]


@pytest.mark.usefixtures("databases")
def test_copy_copies_owned_snapshots_without_a_copy_and_prunes_nothing(source, destination):
    owned_snapshot(source, "dr-orders-db-20261125-1200")

    code, output = run("copy", "--json")

    assert code == 0
    assert "dr-orders-db-20261125-1200" in instance_snapshots(destination)
    assert json.loads(output)["action"] == "copy"
    assert {o["operation"] for o in json.loads(output)["outcomes"]} == {"copy"}


@pytest.mark.usefixtures("databases")
def test_copy_of_a_named_snapshot(source, destination):
    owned_snapshot(source, "dr-orders-db-20261125-1200")
    owned_snapshot(source, "dr-orders-db-20261125-1300")

    code, _ = run("copy", "--snapshot", "dr-orders-db-20261125-1200")

    assert code == 0
    assert list(instance_snapshots(destination)) == ["dr-orders-db-20261125-1200"]


@pytest.mark.usefixtures("databases")
def test_copy_of_a_snapshot_that_is_not_ours_is_refused(source, destination):
    source.create_db_snapshot(DBSnapshotIdentifier="someone-elses", DBInstanceIdentifier="orders-db")

    code, output = run("copy", "--snapshot", "someone-elses")

    assert code == 1
    assert "not a snapshot of this module instance" in output
    assert instance_snapshots(destination) == {}


@pytest.mark.usefixtures("databases")
def test_copy_of_a_snapshot_that_does_not_exist_fails():
    code, output = run("copy", "--snapshot", "dr-nothing-20261125-1200")

    assert code == 1
    assert "no DB snapshot or DB cluster snapshot" in output


@pytest.mark.usefixtures("databases")
def test_reconcile_copies_and_exits_0(source, destination):
    owned_snapshot(source, "dr-orders-db-20261125-1200")

    code, output = run("reconcile")

    assert code == 0, output
    assert "dr-orders-db-20261125-1200" in instance_snapshots(destination)


@pytest.mark.usefixtures("aws", "default_quotas")
def test_a_failed_target_exits_1_with_its_fix():
    code, output = run("backup", "--targets", "orders-db")  # orders-db does not exist

    assert code == 1
    assert "fix for orders-db" in output


# --- dry run ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("databases")
def test_dry_run_backup_makes_no_mutating_call(source):
    calls = record_calls()

    code, output = run("backup", "--dry-run")

    assert code == 0
    assert calls, "the reads still happen"
    assert [c for c in calls if c.startswith(MUTATING)] == []
    assert instance_snapshots(source) == {}
    assert cluster_snapshots(source) == {}
    assert "DRY RUN" in output
    assert "would start" in output
    assert "dr-orders-db-20261125-1400" in output


@pytest.mark.usefixtures("databases")
def test_dry_run_reconcile_shows_copies_and_deletions_without_making_them(source, destination, key_arn):
    old = "dr-orders-db-20261101-1400"
    owned_snapshot(source, old)
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=f"arn:aws:rds:{SOURCE_REGION}:123456789012:snapshot:{old}",
        TargetDBSnapshotIdentifier=old,
        KmsKeyId=key_arn,
        CopyTags=True,
        SourceRegion=SOURCE_REGION,
    )
    owned_snapshot(source, "dr-orders-db-20261125-1200")  # newer, no copy yet
    calls = record_calls()

    code, output = run("reconcile", "--dry-run", now=NOW + timedelta(days=30))

    assert code == 0, output
    assert [c for c in calls if c.startswith(MUTATING)] == []
    assert "would start" in output
    assert "would delete" in output
    assert set(instance_snapshots(source)) == {old, "dr-orders-db-20261125-1200"}
    assert set(instance_snapshots(destination)) == {old}


# --- --wait --------------------------------------------------------------------------------------------


def _progress(steps: list[tuple[str, int]]) -> None:
    """Describe calls of the instance snapshot answer these (status, percent) first, then the real state."""
    queue = list(steps)

    def change(parsed: dict[str, Any]) -> None:
        if queue and parsed.get("DBSnapshots"):
            status, percent = queue.pop(0)
            parsed["DBSnapshots"][0].update(Status=status, PercentProgress=percent)

    alter_response(SOURCE_REGION, "DescribeDBSnapshots", change)


@pytest.mark.usefixtures("databases")
def test_wait_follows_each_snapshot_to_available_with_progress_and_a_final_table():
    _progress([("creating", 10), ("creating", 60)])
    pauses: list[float] = []

    code, output = run("backup", "--targets", "orders-db", "--wait", "--poll-seconds", "20", pause=pauses.append)

    assert code == 0, output
    assert pauses == [20, 20]
    assert " 10%" in output
    assert " 60%" in output
    final = output.split("SNAPSHOT")[-1]
    assert "dr-orders-db-20261125-1400" in final
    assert "available" in final


@pytest.mark.usefixtures("databases")
def test_wait_reports_a_snapshot_that_failed_and_exits_1():
    _progress([("creating", 10), ("failed", 10)])

    code, output = run("backup", "--targets", "orders-db", "--wait")

    assert code == 1
    assert "failed" in output.split("SNAPSHOT")[-1]


@pytest.mark.usefixtures("databases")
def test_wait_stops_following_a_snapshot_rds_ended_incompatible():
    _progress([("creating", 10), ("incompatible-parameters", 10)])

    code, output = run("backup", "--targets", "orders-db", "--wait")

    assert code == 1, output
    assert "incompatible-parameters" in output.split("SNAPSHOT")[-1]


@pytest.mark.usefixtures("databases")
def test_wait_follows_copies_too(source, destination):
    owned_snapshot(source, "dr-orders-db-20261125-1200")

    code, output = run("copy", "--wait")

    assert code == 0
    assert DESTINATION_REGION in output.split("SNAPSHOT")[-1]


# --- Ctrl-C -------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("databases")
def test_ctrl_c_while_waiting_lists_unfinished_work_and_exits_130():
    _progress([("creating", 10)] * 5)

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    code, output = run("backup", "--wait", pause=interrupt)

    assert code == 130
    assert "Interrupted" in output
    unfinished = output.split("Started and not yet finished:")[1].split("Finished:")[0]
    assert "dr-orders-db-20261125-1400" in unfinished
    assert "creating" in unfinished
    assert "dr-payments-20261125-1400" in output.split("Finished:")[1]
    assert "--scheduled-time 2026-11-25T14:00Z" in output


@pytest.mark.usefixtures("databases")
def test_ctrl_c_during_the_run_reports_what_was_already_started(source):
    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt

    # targets run clusters first, then instances: the cluster snapshot is started when Ctrl-C comes
    engine_client(SOURCE_REGION).meta.events.register_first("before-call.rds.CreateDBSnapshot", interrupt)

    code, output = run("backup")

    assert code == 130
    assert "dr-payments-20261125-1400" in output.split("Started and not yet finished:")[1]
    assert "dr-payments-20261125-1400" in cluster_snapshots(source)
    assert instance_snapshots(source) == {}


@pytest.mark.usefixtures("aws", "default_quotas")
def test_ctrl_c_before_anything_started_says_so():
    def interrupt(**_: Any) -> None:
        raise KeyboardInterrupt

    engine_client(SOURCE_REGION).meta.events.register_first("before-call.rds.DescribeDBInstances", interrupt)

    code, output = run("backup")

    assert code == 130
    assert "Nothing had been started." in output


# --- preflight ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("databases")
def test_preflight_prints_the_checklist_and_exits_0_without_failures():
    code, output = run("preflight")

    assert code == 0, output
    assert "STATUS" in output
    assert "destination key" in output
    assert "preflight: warn" in output  # moto's caller is a user, so writes are not verified


@pytest.mark.usefixtures("aws", "default_quotas")
def test_preflight_with_a_failed_check_exits_1_and_prints_the_fix():
    code, output = run("preflight", "--role-arn", "arn:aws:iam::123456789012:role/fn", "--json")

    assert code == 1
    report = json.loads(output)
    assert report["status"] == "fail"
    assert any(c["check"] == "target orders-db" and c["status"] == "fail" for c in report["checks"])


# --- the function never loads the command line ----------------------------------------------------------


def test_the_handler_does_not_import_the_command_line():
    probe = (
        "import sys, rds_snapshot_dr.handler; print([m for m in sys.modules if m.startswith('rds_snapshot_dr.cli')])"
    )
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", probe], env={"PYTHONPATH": str(LAMBDA_SRC)}, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "rds_snapshot_dr", "--help"],
        env={"PYTHONPATH": str(LAMBDA_SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "backup" in result.stdout
    assert "preflight" in result.stdout


def test_version_flag_prints_the_release(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])

    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rds-snapshot-dr {rds_snapshot_dr.__version__}"


@pytest.mark.usefixtures("databases")
def test_the_command_line_leaves_the_engine_logging_as_it_found_it(caplog):
    run("backup")
    caplog.clear()

    log_decision(logging.WARNING, "copy deferred", target="orders-db", outcome="deferred")

    assert [r.target for r in caplog.records] == ["orders-db"]


def test_without_credentials_the_fix_says_to_sign_in(env, monkeypatch, tmp_path):
    """A workstation with no credentials: botocore raises before any request; the fix is to sign in, not
    to check a KMS key or IAM permissions that were never reached."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    CLIENTS._session = None
    try:
        code, output = run("backup", "--targets", "orders-db")
    finally:
        CLIENTS._session = None

    assert code == 1
    assert "no usable AWS credentials" in output
    assert "aws sso login" in output
    assert "KMS key" not in output
