"""scripts/demo's own behaviour, in seconds: what it leaves behind, what it counts, what its help says.

The AWS stand-in, Terraform and the function are replaced by fakes here: these tests are about the
demo's bookkeeping on every way out (success, a failed step, Ctrl-C, SIGTERM), not about the cycle,
which tests/integration/test_cycle.py covers for real.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import stand_in

pytestmark = pytest.mark.integration

EXAMPLE = stand_in.REPO / "examples" / "basic"


class FakeServer:
    stopped = False

    def __init__(self, _log: Path) -> None:
        self.endpoint = "http://127.0.0.1:1"

    def start(self) -> FakeServer:
        return self

    def stop(self) -> None:
        FakeServer.stopped = True


def fake_terraform(fail: dict[str, BaseException]) -> type:
    class FakeTerraform:
        destroyed = False

        def __init__(self, _module: Path, workdir: Path, *_: Any) -> None:
            self.workdir = workdir
            (workdir / "main.tf").write_text("# a working copy\n")

        def _step(self, name: str) -> None:
            if name in fail:
                raise fail[name]

        def init(self) -> None:
            self._step("init")

        def apply(self) -> None:
            (self.workdir / "terraform.tfstate").write_text("{}")
            self._step("apply")

        def managed_resources(self) -> list[str]:
            return ["module.rds_snapshot_dr.aws_lambda_function.this", "module.rds_snapshot_dr.aws_sqs_queue.dlq"]

        def outputs(self) -> dict[str, Any]:
            return {"lambda_function_name": "orders-rds-snapshot-dr"}

        def destroy(self) -> None:
            FakeTerraform.destroyed = True
            self._step("destroy")

    return FakeTerraform


@pytest.fixture
def made_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """Every temporary directory the demo makes, created under tmp_path so leftovers are visible."""
    made: list[Path] = []
    real = tempfile.mkdtemp

    def mkdtemp(**kwargs: Any) -> str:
        path = real(dir=tmp_path / "tmp", **kwargs)
        made.append(Path(path))
        return path

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(stand_in.tempfile, "mkdtemp", mkdtemp)
    FakeServer.stopped = False
    monkeypatch.setattr(stand_in, "MotoServer", FakeServer)
    monkeypatch.setattr(stand_in, "seed_estate", lambda *_: None)
    function = SimpleNamespace(name="demo-rds-snapshot-dr", environment={})
    monkeypatch.setattr(stand_in.DeployedFunction, "read", classmethod(lambda cls, *_: function))
    history = SimpleNamespace(database="orders-db", kept=["a"], expired="b", impostor="c")
    monkeypatch.setattr(stand_in, "seed_history", lambda *_: history)
    monkeypatch.setattr(stand_in, "run_cycle", lambda *_, **__: SimpleNamespace(errors=[]))
    monkeypatch.setattr(stand_in, "write_function_log", lambda *_: None)
    monkeypatch.setattr(stand_in, "summary", lambda *_: "summary")
    # the DR-day step: the restore command against the (fake) deployment
    monkeypatch.setattr(stand_in, "expected_targets", lambda *_: {"orders-db"})
    monkeypatch.setattr(stand_in, "run_restore_command", lambda *_, **__: (0, "restored", 0.0))
    return made


def run_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **fail: BaseException) -> tuple[int, type]:
    terraform = fake_terraform(fail)
    monkeypatch.setattr(stand_in, "Terraform", terraform)
    return stand_in.demo(EXAMPLE, tmp_path / "keep"), terraform


def assert_nothing_left(made: list[Path], tmp_path: Path) -> None:
    assert len(made) == 1, made
    assert not made[0].exists(), f"{made[0]} (terraform state) was left behind"
    assert list((tmp_path / "tmp").iterdir()) == []
    assert FakeServer.stopped


def test_a_successful_demo_removes_its_working_directory(made_dirs, monkeypatch, tmp_path, capsys):
    code, terraform = run_demo(monkeypatch, tmp_path)

    assert code == 0
    assert terraform.destroyed
    assert_nothing_left(made_dirs, tmp_path)
    assert "      2 resources created" in capsys.readouterr().out.splitlines()


def test_a_failed_step_removes_its_working_directory(made_dirs, monkeypatch, tmp_path):
    code, terraform = run_demo(monkeypatch, tmp_path, apply=RuntimeError("terraform apply failed"))

    assert code == 1
    assert terraform.destroyed  # what apply made is destroyed first
    assert_nothing_left(made_dirs, tmp_path)


def test_a_failed_destroy_still_removes_its_working_directory(made_dirs, monkeypatch, tmp_path):
    code, _ = run_demo(monkeypatch, tmp_path, destroy=RuntimeError("terraform destroy failed"))

    assert code == 1
    assert_nothing_left(made_dirs, tmp_path)


def test_ctrl_c_removes_its_working_directory(made_dirs, monkeypatch, tmp_path):
    code, _ = run_demo(monkeypatch, tmp_path, init=KeyboardInterrupt())

    assert code == 1
    assert_nothing_left(made_dirs, tmp_path)


def test_a_second_ctrl_c_during_destroy_still_removes_its_working_directory(made_dirs, monkeypatch, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_demo(monkeypatch, tmp_path, apply=KeyboardInterrupt(), destroy=KeyboardInterrupt())

    assert_nothing_left(made_dirs, tmp_path)


def test_sigterm_removes_its_working_directory(made_dirs, monkeypatch, tmp_path):
    previous: Callable[..., Any] | int | None = signal.getsignal(signal.SIGTERM)
    stand_in._interrupt_on_sigterm()
    try:
        terraform = fake_terraform({})
        terraform.apply = lambda self: signal.raise_signal(signal.SIGTERM)
        monkeypatch.setattr(stand_in, "Terraform", terraform)
        code = stand_in.demo(EXAMPLE, tmp_path / "keep")
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert code == 1
    assert_nothing_left(made_dirs, tmp_path)


def test_help_names_scripts_demo(capsys):
    with pytest.raises(SystemExit) as exit_:
        stand_in.main(["demo", "--help"])

    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: scripts/demo [-h] [--example EXAMPLE]")


def test_resource_count_is_managed_resources_only():
    shown = {
        "resources": [
            {"address": "data.aws_region.current", "mode": "data"},
            {"address": "aws_kms_key.destination", "mode": "managed"},
        ],
        "child_modules": [
            {
                "resources": [
                    {"address": "module.dr.data.aws_iam_policy_document.lambda", "mode": "data"},
                    {"address": "module.dr.aws_lambda_function.this", "mode": "managed"},
                ],
                "child_modules": [
                    {"resources": [{"address": "module.dr.module.key[0].aws_kms_key.this", "mode": "managed"}]}
                ],
            }
        ],
    }

    assert stand_in.managed_addresses(shown) == [
        "aws_kms_key.destination",
        "module.dr.aws_lambda_function.this",
        "module.dr.module.key[0].aws_kms_key.this",
    ]
