"""A wrong-region key known only at apply stops the apply before anything that runs exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stand_in import REPO, Aws, Estate, MotoServer, Terraform

pytestmark = pytest.mark.integration


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[MotoServer]:
    """A moto server of its own: the refused apply leaves resources the session's tests must not see."""
    with MotoServer(tmp_path / "moto-server.log") as server:
        yield server


def test_key_in_the_wrong_region_created_in_the_same_apply_leaves_nothing_live(
    own_server: MotoServer, tmp_path: Path
) -> None:
    moto_server, aws = own_server, Aws(own_server.endpoint)
    estate = Estate()
    terraform = Terraform(
        REPO / "tests" / "integration" / "wrong_region_key",
        tmp_path / "root",
        moto_server.endpoint,
        estate.variables(),
        tmp_path / "terraform.log",
    )
    terraform.init()

    with pytest.raises(RuntimeError, match="kms_key_arn is a key in eu-west-3") as refused:
        terraform.apply()

    assert f"copies are made in {estate.destination_region}" in str(refused.value)
    created = terraform.state_resources()
    assert "aws_kms_key.elsewhere" in created  # the apply really ran, up to the check
    assert not [address for address in created if address.startswith("module.rds_snapshot_dr.aws_lambda")]
    # (the empty schedule group may exist: it runs nothing)
    assert not [address for address in created if "aws_scheduler_schedule." in address]
    # (the event rule may exist without its target: nothing invokes anything)
    assert not [address for address in created if "aws_cloudwatch_event_target" in address]
    assert not [address for address in created if "aws_lambda_permission" in address]
    assert not [address for address in created if "aws_kms_grant" in address]
    functions = aws.client("lambda", estate.source_region).list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith("wrongkey-")]
    schedules = aws.client("scheduler", estate.source_region).list_schedules()["Schedules"]
    assert not [s for s in schedules if s["Name"].startswith("wrongkey-")]
