"""The local stand-in for AWS: run the module and its function end to end against a moto server.

Shared by the integration tests (tests/integration/test_cycle.py) and the demo
(`scripts/demo`, which runs `python tests/integration/stand_in.py demo`). Nothing here talks to AWS:
every client is pointed at a moto server on 127.0.0.1.

The cycle, as AWS would run it:
  1. start moto's server (tests/integration/moto_server.py) on a free port;
  2. seed a realistic estate in the source region (encrypted PostgreSQL/MySQL instances, an Aurora
     cluster with a member, an instance nobody selected, a snapshot that belongs to nobody);
  3. `terraform init` and `apply` a root module (an example, or the test fixture) with a provider
     override file that points both provider configurations at the server;
  4. read the function back from the server (handler, environment, code hash), load the package it
     was created from, and invoke it in-process with the scheduler's backup input, the RDS
     "snapshot created" events the deployed rule lets through, and the reconcile input;
  5. report per database; `terraform destroy`; stop the server.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import importlib
import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
PACKAGE_ZIP = REPO / "dist" / "rds_snapshot_dr.zip"
MOTO_LAUNCHER = Path(__file__).resolve().parent / "moto_server.py"

SOURCE_REGION = "us-east-1"
DESTINATION_REGION = "us-west-2"
ACCOUNT_ID = "123456789012"  # moto's default account
AGE_TAG = "stand-in:age-days"  # see moto_server.py: dates a seeded snapshot N days back

# Every endpoint the module's resources and data sources use (provider `endpoints` block keys).
TERRAFORM_ENDPOINTS = (
    "cloudwatch",
    "cloudwatchevents",
    "cloudwatchlogs",
    "iam",
    "kms",
    "lambda",
    "rds",
    "scheduler",
    "sns",
    "sqs",
    "ssm",
    "sts",
)

# What a second `terraform plan` may still show right after `apply`, and why. Anything else fails.
# (resource type, top-level attribute) -> reason
KNOWN_EMULATOR_GAPS: dict[tuple[str, str], str] = {
    ("aws_lambda_function", "logging_config"): "moto's Lambda neither stores nor returns LoggingConfig",
}


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """moto's server on a free 127.0.0.1 port, started and stopped by this object."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> MotoServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # another process may take the port between probe and bind
            self.port = free_port()
            with self.log_path.open("ab") as sink:
                self._process = subprocess.Popen(  # noqa: S603 - our interpreter, our launcher
                    [sys.executable, str(MOTO_LAUNCHER), "--port", str(self.port), "--parent-pid", str(os.getpid())],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"moto server did not start; see {self.log_path}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class Aws:
    """boto3 clients for the stand-in; `account` (an account id) acts as that account, by moto's
    x-moto-account-id header (default: moto's account, 123456789012)."""

    def __init__(self, endpoint: str, account: str | None = None) -> None:
        self.endpoint = endpoint
        self.account = account
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(retries={"mode": "standard", "max_attempts": 2}),
            )
            if self.account:
                self._clients[key].meta.events.register("before-sign.*.*", self._as_account)
        return self._clients[key]

    def _as_account(self, request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = self.account


# --------------------------------------------------------------------------------------------------
# The estate: what a platform team's source region looks like before the module arrives
# --------------------------------------------------------------------------------------------------


@dataclass
class Estate:
    """One source region that both examples find their databases in.

    examples/basic protects orders-db. examples/complete protects payments-db and ledger-db by name,
    the settlement-aurora cluster by name, and cards-db through its tag dr-tier = gold.
    analytics-scratch (dr-tier = silver) is selected by neither; nightly-export-orders-db is a manual
    snapshot another team made.
    """

    source_region: str = SOURCE_REGION
    destination_region: str = DESTINATION_REGION
    instances: dict[str, tuple[str, dict[str, str]]] = field(
        default_factory=lambda: {
            "orders-db": ("postgres", {}),
            "payments-db": ("postgres", {}),
            "ledger-db": ("mysql", {}),
            "cards-db": ("mysql", {"dr-tier": "gold"}),
            "analytics-scratch": ("mysql", {"dr-tier": "silver"}),
        }
    )
    clusters: dict[str, str] = field(default_factory=lambda: {"settlement-aurora": "aurora-postgresql"})
    foreign_snapshot: str = "nightly-export-orders-db"
    foreign_snapshot_of: str = "orders-db"
    storage_key_arn: str = ""

    def variables(self) -> dict[str, Any]:
        """Values for root-module variables of these names (each example declares the ones it uses)."""
        return {"source_region": self.source_region, "destination_region": self.destination_region}


def seed_estate(aws: Aws, estate: Estate) -> None:
    """Create the estate in the source region: encrypted databases and a snapshot nobody owns."""
    kms = aws.client("kms", estate.source_region)
    rds = aws.client("rds", estate.source_region)
    estate.storage_key_arn = kms.create_key(Description="storage encryption of the seeded databases")["KeyMetadata"][
        "Arn"
    ]
    common = {"MasterUsername": "dbadmin", "MasterUserPassword": "not-a-secret-1", "StorageEncrypted": True}
    tags = [{"Key": "team", "Value": "platform"}]

    def instance(identifier: str, engine: str, extra_tags: list[dict[str, str]] | None = None) -> None:
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.t4g.medium",
            Engine=engine,
            AllocatedStorage=50,
            KmsKeyId=estate.storage_key_arn,
            Tags=tags + (extra_tags or []),
            **common,
        )

    for identifier, (engine, extra) in estate.instances.items():
        instance(identifier, engine, [{"Key": key, "Value": value} for key, value in extra.items()])
    for identifier, engine in estate.clusters.items():
        rds.create_db_cluster(
            DBClusterIdentifier=identifier,
            Engine=engine,
            KmsKeyId=estate.storage_key_arn,
            Tags=tags,
            **common,
        )
        rds.create_db_instance(
            DBInstanceIdentifier=f"{identifier}-1",
            DBInstanceClass="db.r6g.large",
            Engine=engine,
            DBClusterIdentifier=identifier,
        )
    rds.create_db_snapshot(
        DBSnapshotIdentifier=estate.foreign_snapshot,
        DBInstanceIdentifier=estate.foreign_snapshot_of,
        Tags=[{"Key": "team", "Value": "data"}, {"Key": AGE_TAG, "Value": "90"}],
    )


@dataclass(frozen=True)
class SeededHistory:
    """Snapshots that exist before the first backup of the cycle."""

    database: str
    expired: str  # owned, past retention in both regions, beyond keep-last: pruned in both
    kept: list[str]  # owned, past retention, but among the newest keep-last: kept in both
    impostor: str  # the instance's name prefix without its ownership tag: never touched


def seed_history(aws: Aws, estate: Estate, function: DeployedFunction) -> SeededHistory:
    """KEEP_LAST old owned snapshots (40, 41, ... days) of the function's first named database, with
    their copies, as earlier runs would have left them; and an impostor 400 days old."""
    env = function.environment
    prefix, owner_key, owner = env["SNAPSHOT_PREFIX"], env["OWNER_TAG_KEY"], env["OWNER_TAG_VALUE"]
    database = env["DB_INSTANCE_IDENTIFIERS"].split(",")[0]
    rds = aws.client("rds", estate.source_region)
    now = datetime.now(UTC)
    made = []
    for age in range(40, 40 + int(env["KEEP_LAST"])):
        identifier = f"{prefix}-{database}-{(now - timedelta(days=age)).strftime('%Y%m%d-0300')}"
        tags = [
            {"Key": owner_key, "Value": owner},
            {"Key": "rds-snapshot-dr:source", "Value": database},
            {"Key": "rds-snapshot-dr:source-type", "Value": "instance"},
            {"Key": AGE_TAG, "Value": str(age)},
        ]
        source = rds.create_db_snapshot(DBSnapshotIdentifier=identifier, DBInstanceIdentifier=database, Tags=tags)
        aws.client("rds", estate.destination_region).copy_db_snapshot(
            SourceDBSnapshotIdentifier=source["DBSnapshot"]["DBSnapshotArn"],
            TargetDBSnapshotIdentifier=identifier,
            KmsKeyId=env["DESTINATION_KMS_KEY_ARN"],
            CopyTags=True,
            SourceRegion=estate.source_region,
        )
        made.append(identifier)
    impostor = f"{prefix}-{database}-{(now - timedelta(days=400)).strftime('%Y%m%d-0300')}"
    rds.create_db_snapshot(
        DBSnapshotIdentifier=impostor,
        DBInstanceIdentifier=database,
        Tags=[{"Key": "team", "Value": "data"}, {"Key": AGE_TAG, "Value": "400"}],
    )
    return SeededHistory(database=database, expired=made[-1], kept=made[:-1], impostor=impostor)


# --------------------------------------------------------------------------------------------------
# Terraform
# --------------------------------------------------------------------------------------------------


def _module_sources(text: str, origin: Path, copy: Path) -> str:
    """Rewrite relative `source = "../.."` module addresses so the copy in `copy` still finds the module.

    Still relative: Terraform installs an absolute path like a remote package, rooted at that module, and a
    module there that calls its sibling ("../function-key-statements") would escape its package.
    """

    def relative(match: re.Match[str]) -> str:
        return f'{match.group(1)}"{os.path.relpath((origin / match.group(2)).resolve(), copy.resolve())}"'

    return re.sub(r'(\bsource\s*=\s*)"(\.{1,2}/[^"]*|\.\.)"', relative, text)


def _provider_aliases(texts: list[str]) -> list[str | None]:
    """The aws provider configurations a root module declares: None = default, else the alias."""
    aliases: list[str | None] = []
    for text in texts:
        for block in re.finditer(r'provider\s+"aws"\s*\{(.*?)\n\}', text, re.DOTALL):
            alias = re.search(r'^\s*alias\s*=\s*"([^"]+)"', block.group(1), re.MULTILINE)
            aliases.append(alias.group(1) if alias else None)
    return aliases


def provider_override(endpoint: str, aliases: list[str | None]) -> str:
    """`*_override.tf` content: every aws provider configuration talks to the stand-in."""
    endpoints = "\n".join(f'    {name:<16} = "{endpoint}"' for name in TERRAFORM_ENDPOINTS)
    blocks = []
    for alias in aliases:
        alias_line = f'  alias = "{alias}"\n' if alias else ""
        blocks.append(
            f'provider "aws" {{\n{alias_line}'
            '  access_key                  = "test"\n'
            '  secret_key                  = "test"\n'
            "  skip_credentials_validation = true\n"
            "  skip_metadata_api_check     = true\n"
            "  skip_region_validation      = true\n"
            f"  endpoints {{\n{endpoints}\n  }}\n}}\n"
        )
    header = "# Written by the local stand-in: every AWS API call goes to the moto server.\n"
    return header + "\n".join(blocks)


def _terraform_cli_config() -> dict[str, str]:
    """The CLI configuration scripts/lib.sh writes (local provider mirror or registry), when the
    environment names none that exists: lets `pytest tests/integration` run on its own too."""
    configured = os.environ.get("TF_CLI_CONFIG_FILE")
    written = REPO / ".cache" / "terraform" / "terraformrc"
    if (configured and Path(configured).is_file()) or not written.is_file():
        return {}
    return {"TF_CLI_CONFIG_FILE": str(written)}


class Terraform:
    """terraform in a working copy of a root module, pointed at the stand-in."""

    def __init__(self, root_module: Path, workdir: Path, endpoint: str, variables: dict[str, Any], log_path: Path):
        self.workdir = workdir
        self.log_path = log_path
        binary = shutil.which("terraform")
        if binary is None:
            raise RuntimeError("terraform not found on PATH")
        self.binary = binary
        shutil.copytree(
            root_module,
            workdir,
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl", "*_override.tf"),
            dirs_exist_ok=True,
        )
        texts = []
        for path in sorted(workdir.glob("*.tf")):
            text = _module_sources(path.read_text(), root_module, workdir)
            path.write_text(text)
            texts.append(text)
        declared = set(re.findall(r'^variable\s+"([^"]+)"', "\n".join(texts), re.MULTILINE))
        (workdir / "stand_in_override.tf").write_text(provider_override(endpoint, _provider_aliases(texts)))
        (workdir / "stand_in.auto.tfvars.json").write_text(
            json.dumps({key: value for key, value in variables.items() if key in declared}, indent=2)
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **_terraform_cli_config(),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }

    def run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        command = [self.binary, *args]
        result = subprocess.run(  # noqa: S603 - terraform, with our arguments
            command, cwd=self.workdir, env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        shown = "(JSON plan not logged)\n" if args[0] == "show" else result.stdout
        with self.log_path.open("a") as sink:
            sink.write(f"\n$ terraform {' '.join(args)}  (exit {result.returncode})\n{shown}{result.stderr}")
        if result.returncode not in ok_codes:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            raise RuntimeError(f"terraform {args[0]} failed (exit {result.returncode}):\n{tail}")
        return result

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color")

    def apply(self) -> None:
        self.run("apply", "-auto-approve", "-input=false", "-no-color")

    def plan(self) -> tuple[int, dict[str, Any]]:
        """`plan -detailed-exitcode`: (exit code, the plan as JSON)."""
        result = self.run(
            "plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=stand-in.tfplan", ok_codes=(0, 2)
        )
        shown = self.run("show", "-json", "stand-in.tfplan")
        return result.returncode, json.loads(shown.stdout)

    def outputs(self) -> dict[str, Any]:
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json").stdout).items()}

    def destroy(self) -> None:
        try:
            self.run("destroy", "-auto-approve", "-input=false", "-no-color")
        except RuntimeError as error:
            if not deleted_already(str(error)):
                raise
            # The stand-in, slowed by the stages beside it, can answer a delete late: the provider sends it
            # again and meets the 404 of its own first, successful delete. A second destroy refreshes that
            # resource out of the state; any other failure, or this one twice, fails.
            log(f"terraform destroy met a resource it had deleted already; destroying again:\n{error}")
            self.run("destroy", "-auto-approve", "-input=false", "-no-color")

    def managed_resources(self) -> list[str]:
        """Addresses of the resources apply created: managed resources only, not data sources."""
        shown = json.loads(self.run("show", "-json").stdout)
        return managed_addresses(shown.get("values", {}).get("root_module", {}))

    def state_resources(self) -> list[str]:
        result = self.run("state", "list", ok_codes=(0, 1))
        return [line for line in result.stdout.splitlines() if line.strip()]


def deleted_already(failure: str) -> bool:
    """A destroy that failed only on deletes answered 404 (the resource was gone already): every `Error:` line
    is a deleting-... error with StatusCode 404."""
    errors = [line for line in failure.splitlines() if line.strip().startswith("Error:")]
    return bool(errors) and all("Error: deleting" in line and "StatusCode: 404" in line for line in errors)


def managed_addresses(module: dict[str, Any]) -> list[str]:
    """Managed resource addresses of a `terraform show -json` module and its child modules (data sources
    are read, not created, so `terraform state list` over-counts what apply made)."""
    own = [r["address"] for r in module.get("resources", []) if r.get("mode") == "managed"]
    return own + [address for child in module.get("child_modules", []) for address in managed_addresses(child)]


def _attribute_changes(change: dict[str, Any]) -> list[str]:
    """Top-level attributes an update changes, including those only known after apply."""
    before, after = change["change"].get("before"), change["change"].get("after")
    unknown = change["change"].get("after_unknown")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ["(whole resource)"]
    unknown = unknown if isinstance(unknown, dict) else {}
    keys = set(before) | set(after) | set(unknown)
    return sorted(key for key in keys if before.get(key) != after.get(key) or unknown.get(key))


def _classify_plan(plan: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(unexpected changes, allow-listed changes with their reason) of a plan, as readable lines."""
    unexpected: list[str] = []
    allowed: list[str] = []
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        if actions != ["update"]:
            unexpected.append(f"{change['address']}: {'/'.join(actions)}")
            continue
        for attribute in _attribute_changes(change):
            key = (change["type"], attribute)
            if key in KNOWN_EMULATOR_GAPS:
                allowed.append(f"{change['address']}.{attribute}: {KNOWN_EMULATOR_GAPS[key]}")
            else:
                unexpected.append(f"{change['address']}: {attribute} would change")
    return unexpected, allowed


def unexpected_plan_changes(plan: dict[str, Any]) -> list[str]:
    """Changes a plan right after apply shows beyond the named emulator gaps."""
    return _classify_plan(plan)[0]


def planned_known_gaps(plan: dict[str, Any]) -> list[str]:
    """The allow-listed changes a plan shows, with their reason."""
    return _classify_plan(plan)[1]


# --------------------------------------------------------------------------------------------------
# The deployed function, invoked the way AWS would
# --------------------------------------------------------------------------------------------------


@dataclass
class LambdaContext:
    """The Lambda context object: the attributes and method the runtime provides."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "stand-in"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    event: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    output: str


@dataclass
class DeployedFunction:
    """The function as the stand-in holds it after `terraform apply`."""

    name: str
    arn: str
    region: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    code_sha256: str

    @classmethod
    def read(cls, aws: Aws, region: str, name: str) -> DeployedFunction:
        config = aws.client("lambda", region).get_function_configuration(FunctionName=name)
        return cls(
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            region=region,
            handler=config["Handler"],
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            timeout=int(config["Timeout"]),
            memory=int(config["MemorySize"]),
            code_sha256=config["CodeSha256"],
        )

    def check_package(self, package: Path = PACKAGE_ZIP) -> None:
        """The stand-in cannot hand the code back (its Code.Location names a bucket that does not
        exist), so prove the package on disk is the one the function was created from."""
        digest = base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()
        if digest != self.code_sha256:
            raise AssertionError(f"{package.name} (sha256 {digest}) is not the deployed code ({self.code_sha256})")

    @contextlib.contextmanager
    def loaded(
        self, endpoint: str, package: Path = PACKAGE_ZIP, paced: bool = True
    ) -> Iterator[Callable[[dict[str, Any]], Invocation]]:
        """Import the deployed package in-process with the function's environment; yield invoke().

        `paced=False` lets the package's rate budget count its pauses without sleeping them (its clock
        moves on by each pause instead): for runs that judge what is sent, not when.
        """
        self.check_package(package)
        module_name, _, function_name = self.handler.rpartition(".")
        top = module_name.split(".")[0]
        saved_env, saved_path = dict(os.environ), list(sys.path)
        with tempfile.TemporaryDirectory(prefix="stand-in-package-") as unpacked:
            with zipfile.ZipFile(package) as archive:
                archive.extractall(unpacked)
            try:
                _forget_modules(top)
                for key in [k for k in os.environ if k.startswith("AWS_")]:
                    del os.environ[key]
                os.environ.update(
                    {
                        **self.environment,
                        "AWS_ENDPOINT_URL": endpoint,
                        "AWS_REGION": self.region,
                        "AWS_DEFAULT_REGION": self.region,
                        "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_LAMBDA_FUNCTION_NAME": self.name,
                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
                    }
                )
                sys.path.insert(0, unpacked)
                module = importlib.import_module(module_name)
                loaded_from = Path(module.__file__ or "").resolve()
                if not loaded_from.is_relative_to(Path(unpacked).resolve()):
                    raise AssertionError(f"{module_name} was imported from {loaded_from}, not the deployed package")
                handler = getattr(module, function_name)
                if not paced:
                    importlib.import_module(f"{top}.clock").set_clock(UnpacedClock())

                def invoke(event: dict[str, Any]) -> Invocation:
                    context = LambdaContext(self.name, self.arn, self.memory, self.timeout)
                    # The runtime hands over a JSON document: the handler never sees our objects.
                    payload = json.loads(json.dumps(event))
                    captured = io.StringIO()
                    # Fresh log handlers each time, so the package's logs land in this capture too.
                    logging.getLogger(top).handlers.clear()
                    try:
                        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                            result = handler(payload, context)
                        return Invocation(event, json.loads(json.dumps(result)), None, captured.getvalue())
                    except Exception as error:  # the runtime reports any exception as a failed invocation
                        return Invocation(event, None, f"{type(error).__name__}: {error}", captured.getvalue())

                yield invoke
            finally:
                logging.getLogger(top).handlers.clear()
                _forget_modules(top)
                sys.path[:] = saved_path
                os.environ.clear()
                os.environ.update(saved_env)


class UnpacedClock:
    """The package's clock without real pauses: wall and monotonic time move on by each pause."""

    def __init__(self) -> None:
        self.paused = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.paused)

    def monotonic(self) -> float:
        return time.monotonic() + self.paused

    def pause(self, seconds: float) -> None:
        self.paused += max(seconds, 0.0)


def _forget_modules(top: str) -> None:
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        del sys.modules[name]


def schedule_inputs(aws: Aws, function: DeployedFunction) -> dict[str, str]:
    """The raw Input of every schedule that targets the function, by the action it asks for."""
    scheduler = aws.client("scheduler", function.region)
    inputs = {}
    for summary in scheduler.list_schedules()["Schedules"]:
        schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
        if schedule["Target"]["Arn"] == function.arn:
            raw = schedule["Target"]["Input"]
            inputs[json.loads(raw)["action"]] = raw
    return inputs


def scheduler_event(raw_input: str, scheduled_time: datetime) -> dict[str, Any]:
    """What EventBridge Scheduler delivers: the target input with its context attributes filled in."""
    stamp = scheduled_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.loads(raw_input.replace("<aws.scheduler.scheduled-time>", stamp))


def snapshot_created_event(kind: str, identifier: str, region: str, when: datetime) -> dict[str, Any]:
    """An RDS "manual snapshot created" event as EventBridge delivers it (AWS's documented sample)."""
    cluster = kind == "cluster"
    arn = f"arn:aws:rds:{region}:{ACCOUNT_ID}:{'cluster-snapshot' if cluster else 'snapshot'}:{identifier}"
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "RDS DB Cluster Snapshot Event" if cluster else "RDS DB Snapshot Event",
        "source": "aws.rds",
        "account": ACCOUNT_ID,
        "time": stamp,
        "region": region,
        "resources": [arn],
        "detail": {
            "EventCategories": ["creation"],
            "SourceType": "CLUSTER_SNAPSHOT" if cluster else "SNAPSHOT",
            "SourceArn": arn,
            "Date": stamp.replace("Z", ".000Z"),
            "Message": "Manual cluster snapshot created" if cluster else "Manual snapshot created",
            "SourceIdentifier": identifier,
            "EventID": "RDS-EVENT-0075" if cluster else "RDS-EVENT-0042",
        },
    }


def rule_patterns(aws: Aws, function: DeployedFunction) -> list[str]:
    """Event patterns of the EventBridge rules that target the function."""
    events = aws.client("events", function.region)
    names = events.list_rule_names_by_target(TargetArn=function.arn)["RuleNames"]
    return [events.describe_rule(Name=name)["EventPattern"] for name in names]


def delivered(patterns: list[str], event: dict[str, Any]) -> bool:
    """Would EventBridge deliver the event? The server's TestEventPattern answers nothing, so use
    moto's own matcher in-process."""
    from moto.events.models import EventPattern

    return any(EventPattern.load(pattern).matches_event(event) for pattern in patterns)


# --------------------------------------------------------------------------------------------------
# The whole cycle
# --------------------------------------------------------------------------------------------------


@dataclass
class Cycle:
    """One run of backup -> snapshot-created events -> reconcile, and what it left behind."""

    function: DeployedFunction
    scheduled_time: datetime
    invocations: dict[str, list[Invocation]] = field(default_factory=dict)
    undelivered_events: list[dict[str, Any]] = field(default_factory=list)
    # The restore drill (when the example enables it): the databases and snapshots of both regions
    # before the drill, while the drill database exists, and after reconcile finished it.
    drill_before: dict[str, dict[str, Any]] = field(default_factory=dict)
    drill_during: dict[str, dict[str, Any]] = field(default_factory=dict)
    drill_after: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[dict[str, Any]]:
        return [
            {**outcome, "action": stage}
            for stage, runs in self.invocations.items()
            for run in runs
            for outcome in (run.result or {}).get("outcomes", [])
        ]

    @property
    def errors(self) -> list[str]:
        return [f"{stage}: {run.error}" for stage, runs in self.invocations.items() for run in runs if run.error]


def created_snapshots(invocations: list[Invocation]) -> list[tuple[str, str]]:
    """(kind, snapshot id) of every snapshot the backup invocation started."""
    made = []
    for run in invocations:
        for outcome in (run.result or {}).get("outcomes", []):
            if outcome.get("operation") == "snapshot" and outcome.get("outcome") in ("started", "exists"):
                made.append((outcome.get("kind", "instance"), outcome["snapshot"]))
    return made


def run_cycle(
    aws: Aws,
    function: DeployedFunction,
    scheduled_time: datetime,
    progress: Callable[[str], None] = log,
    record: Callable[[str], contextlib.AbstractContextManager[Any]] | None = None,
    paced: bool = True,
) -> Cycle:
    """Drive the deployed function through backup, the snapshot-created events, copy-waiting and reconcile.

    `record(label)`, when given, wraps each invocation (the authorization stage records its requests).
    """
    cycle = Cycle(function, scheduled_time)
    inputs = schedule_inputs(aws, function)
    patterns = rule_patterns(aws, function)
    for action in ("backup", "reconcile", "copy-waiting"):
        if action not in inputs:
            raise AssertionError(f"no schedule targets {function.name} with action {action!r}: {sorted(inputs)}")
    if not patterns:
        raise AssertionError(f"no EventBridge rule targets {function.name}")
    with function.loaded(aws.endpoint, paced=paced) as invoke_function:

        def invoke(event: dict[str, Any], label: str = "") -> Invocation:
            with record(label) if record else contextlib.nullcontext():
                return invoke_function(event)

        progress("backup: the scheduler's backup input")
        cycle.invocations["backup"] = [invoke(scheduler_event(inputs["backup"], scheduled_time), "backup")]
        events = [
            snapshot_created_event(kind, identifier, function.environment["SOURCE_REGION"], scheduled_time)
            for kind, identifier in created_snapshots(cycle.invocations["backup"])
        ]
        to_deliver = [event for event in events if delivered(patterns, event)]
        cycle.undelivered_events = [event for event in events if not delivered(patterns, event)]
        progress(f"events: {len(to_deliver)} snapshot-created event(s) through the deployed rule")
        cycle.invocations["snapshot-created"] = [invoke(event, "snapshot-created") for event in to_deliver]
        progress("copy-waiting: the scheduler's copy-waiting input (the events started every copy already)")
        cycle.invocations["copy-waiting"] = [
            invoke(scheduler_event(inputs["copy-waiting"], scheduled_time), "copy-waiting")
        ]
        progress("reconcile: the scheduler's reconcile input")
        cycle.invocations["reconcile"] = [invoke(scheduler_event(inputs["reconcile"], scheduled_time), "reconcile")]
        if "drill" in inputs:
            run_drill(aws, cycle, inputs, invoke, scheduled_time, progress)
    return cycle


def rds_state(aws: Aws, regions: list[str]) -> dict[str, dict[str, Any]]:
    """Every DB instance, DB cluster and manual snapshot of the regions: "<region> <kind>:<id>" -> tags (and class)."""
    found: dict[str, dict[str, Any]] = {}
    for region in regions:
        rds = aws.client("rds", region)
        for item in rds.describe_db_instances()["DBInstances"]:
            found[f"{region} db:{item['DBInstanceIdentifier']}"] = {
                "tags": tags_of(rds, item["DBInstanceArn"]),
                "class": item.get("DBInstanceClass"),
            }
        for item in rds.describe_db_clusters()["DBClusters"]:
            found[f"{region} cluster:{item['DBClusterIdentifier']}"] = {"tags": tags_of(rds, item["DBClusterArn"])}
        for sid, snap in manual_snapshots(aws, region).items():
            found[f"{region} snapshot:{sid}"] = {"tags": snap["tags"]}
    return found


def run_drill(
    aws: Aws,
    cycle: Cycle,
    inputs: dict[str, str],
    invoke: Callable[[dict[str, Any], str], Invocation],
    scheduled_time: datetime,
    progress: Callable[[str], None],
) -> None:
    """The drill schedule's input, then the next reconcile, which measures and deletes the drill database.

    The stand-in makes a restored database available at once and delivers no RDS event: the reconcile
    finds it available (the module's route for the "available" state; see docs/restore.md).
    """
    env = cycle.function.environment
    regions = [env["SOURCE_REGION"], env["DESTINATION_REGION"]]
    cycle.drill_before = rds_state(aws, regions)
    progress("drill: the scheduler's drill input (starts one restore, returns)")
    cycle.invocations["drill"] = [invoke(scheduler_event(inputs["drill"], scheduled_time), "drill")]
    cycle.drill_during = rds_state(aws, regions)
    progress("reconcile: finds the drill database available, records its time to restore, deletes it")
    cycle.invocations["drill-reconcile"] = [
        invoke(scheduler_event(inputs["reconcile"], scheduled_time), "drill-reconcile")
    ]
    cycle.drill_after = rds_state(aws, regions)


# --------------------------------------------------------------------------------------------------
# What is where: snapshots, and anything left after destroy
# --------------------------------------------------------------------------------------------------


def databases(aws: Aws, region: str) -> dict[str, dict[str, Any]]:
    """DB instances (not Aurora members) and Aurora clusters of a region: id -> kind and tags."""
    rds = aws.client("rds", region)
    found = {}
    for db in rds.describe_db_instances()["DBInstances"]:
        if not db.get("DBClusterIdentifier"):
            found[db["DBInstanceIdentifier"]] = {"kind": "instance", "tags": tags_of(rds, db["DBInstanceArn"])}
    for cluster in rds.describe_db_clusters()["DBClusters"]:
        found[cluster["DBClusterIdentifier"]] = {"kind": "cluster", "tags": tags_of(rds, cluster["DBClusterArn"])}
    return found


def expected_targets(aws: Aws, environment: dict[str, str]) -> dict[str, str]:
    """What the function's settings select in the source region: id -> "instance" | "cluster"."""
    named = {
        "instance": {i for i in environment.get("DB_INSTANCE_IDENTIFIERS", "").split(",") if i},
        "cluster": {c for c in environment.get("DB_CLUSTER_IDENTIFIERS", "").split(",") if c},
    }
    selection = json.loads(environment.get("SELECTION_TAGS") or "{}")
    return {
        database: info["kind"]
        for database, info in databases(aws, environment["SOURCE_REGION"]).items()
        if database in named[info["kind"]]
        or (selection and all(info["tags"].get(key) == value for key, value in selection.items()))
    }


def tags_of(rds: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def manual_snapshots(aws: Aws, region: str) -> dict[str, dict[str, Any]]:
    """Every manual snapshot in a region (instances and clusters) by identifier, with its tags."""
    rds = aws.client("rds", region)
    found: dict[str, dict[str, Any]] = {}
    for snap in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
        found[snap["DBSnapshotIdentifier"]] = {
            "kind": "instance",
            "database": snap["DBInstanceIdentifier"],
            "status": snap["Status"],
            "kms_key_id": snap.get("KmsKeyId"),
            "encrypted": snap.get("Encrypted"),
            "created": snap.get("SnapshotCreateTime"),
            "tags": tags_of(rds, snap["DBSnapshotArn"]),
        }
    for snap in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]:
        found[snap["DBClusterSnapshotIdentifier"]] = {
            "kind": "cluster",
            "database": snap["DBClusterIdentifier"],
            "status": snap["Status"],
            "kms_key_id": snap.get("KmsKeyId"),
            "encrypted": snap.get("StorageEncrypted"),
            "created": snap.get("SnapshotCreateTime"),
            "tags": tags_of(rds, snap["DBClusterSnapshotArn"]),
        }
    return found


def leftovers(aws: Aws, regions: list[str], keep_key_arns: set[str]) -> list[str]:
    """Infrastructure still on the server (the seeded databases and their key do not count; KMS keys
    scheduled for deletion are gone as far as AWS is concerned)."""
    left: list[str] = []
    for region in regions:

        def client(service: str, region: str = region) -> Any:
            return aws.client(service, region)

        left += [f"lambda {f['FunctionName']}" for f in client("lambda").list_functions()["Functions"]]
        left += [f"sqs {url}" for url in client("sqs").list_queues().get("QueueUrls", [])]
        left += [f"sns {t['TopicArn']}" for t in client("sns").list_topics()["Topics"]]
        left += [
            f"sns subscription {s['SubscriptionArn']}" for s in client("sns").list_subscriptions()["Subscriptions"]
        ]
        left += [f"alarm {a['AlarmName']}" for a in client("cloudwatch").describe_alarms()["MetricAlarms"]]
        left += [f"alarm {a['AlarmName']}" for a in client("cloudwatch").describe_alarms()["CompositeAlarms"]]
        left += [f"event rule {r['Name']}" for r in client("events").list_rules()["Rules"]]
        left += [f"schedule {s['Name']}" for s in client("scheduler").list_schedules()["Schedules"]]
        left += [
            f"schedule group {g['Name']}"
            for g in client("scheduler").list_schedule_groups()["ScheduleGroups"]
            if g["Name"] != "default"
        ]
        left += [f"log group {g['logGroupName']}" for g in client("logs").describe_log_groups()["logGroups"]]
        left += [f"ssm parameter {p['Name']}" for p in client("ssm").describe_parameters()["Parameters"]]
        kms = client("kms")
        for key in kms.list_keys()["Keys"]:
            metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if metadata["Arn"] not in keep_key_arns and metadata["KeyState"] != "PendingDeletion":
                left.append(f"kms key {metadata['Arn']} ({metadata['KeyState']})")
        left += [
            f"kms alias {a['AliasName']}"
            for a in kms.list_aliases()["Aliases"]
            if not a["AliasName"].startswith("alias/aws/")
        ]
    iam = aws.client("iam", regions[0])
    left += [f"iam role {r['RoleName']}" for r in iam.list_roles()["Roles"]]
    left += [f"iam policy {p['PolicyName']}" for p in iam.list_policies(Scope="Local")["Policies"]]
    return left


def _age(created: Any, now: datetime) -> str:
    if not isinstance(created, datetime):
        return "?"
    seconds = int((now - created).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


def logged_decisions(cycle: Cycle) -> list[dict[str, Any]]:
    """Decisions the function logged but returned no outcome for (kept, skipped, deferred, ignored)."""
    found = []
    for stage, runs in cycle.invocations.items():
        for run in runs:
            for line in run.output.splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("outcome") in ("kept", "skipped", "deferred"):
                    found.append({**record, "action": stage})
    return found


def summary(aws: Aws, estate: Estate, cycle: Cycle) -> str:
    """A readable account of where every database's recovery point is, and what was pruned or skipped."""
    env = cycle.function.environment
    destination_key = env["DESTINATION_KMS_KEY_ARN"]
    now = datetime.now(UTC)
    source = manual_snapshots(aws, estate.source_region)
    destination = manual_snapshots(aws, estate.destination_region)
    owner_key, owner = env["OWNER_TAG_KEY"], env["OWNER_TAG_VALUE"]
    lines = [
        f"Recovery points ({estate.source_region} -> {estate.destination_region}, destination key {destination_key}):",
    ]
    targets = expected_targets(aws, env)
    for database, kind in sorted(targets.items()):
        owned = sorted(
            (
                sid
                for sid, snap in source.items()
                if snap["database"] == database and snap["tags"].get(owner_key) == owner
            ),
            key=lambda sid: source[sid]["created"],
        )
        lines.append(f"  {database} ({kind})")
        if not owned:
            lines.append("    source snapshot : none")
            continue
        newest = owned[-1]
        copy = destination.get(newest)
        lines.append(f"    source snapshot : {newest} [{source[newest]['status']}]")
        if copy:
            key_note = "destination key" if copy["kms_key_id"] == destination_key else "NOT the destination key"
            lines.append(f"    copy            : {newest} in {estate.destination_region} [{copy['status']}]")
            lines.append(f"    encrypted with  : {copy['kms_key_id']} ({key_note})")
            lines.append(f"    recovery point  : {_age(copy['created'], now)} old")
        else:
            lines.append(f"    copy            : none in {estate.destination_region}")
    everywhere = {**source, **destination}.values()
    for database in sorted(set(databases(aws, estate.source_region)) - set(targets)):
        touched = any(snap["database"] == database and snap["tags"].get(owner_key) == owner for snap in everywhere)
        verdict = "HAS SNAPSHOTS OWNED BY THIS INSTANCE" if touched else "no snapshot taken, untouched"
        lines.append(f"  {database}: not selected by this module instance - {verdict}")
    metrics = ((cycle.invocations.get("reconcile") or [None])[-1] or Invocation({}, None, None, "")).result or {}
    reported = metrics.get("metrics", {})
    if reported:
        lines.append("Reconcile metrics: " + ", ".join(f"{key}={value}" for key, value in sorted(reported.items())))
    drill = [o for o in cycle.outcomes if o.get("operation") == "drill"]
    if drill:
        lines.append("Restore drill:")
        lines += [f"  [{o['action']}] {o['target']}: {o['outcome']} - {o['reason']}" for o in drill]
    notable = [o for o in cycle.outcomes if o.get("outcome") not in ("started", "exists") and o not in drill]
    seen = {(o.get("operation"), o.get("snapshot"), o.get("outcome"), o.get("reason")) for o in notable}
    for decision in logged_decisions(cycle):  # e.g. "kept": expired but among the newest keep-last
        key = (decision.get("operation"), decision.get("snapshot"), decision.get("outcome"), decision.get("reason"))
        if key not in seen:
            seen.add(key)
            notable.append(decision)
    lines.append("Pruned, skipped or deferred:")
    if not notable:
        lines.append("  nothing")
    for outcome in notable:
        reason = f" - {outcome['reason']}" if outcome.get("reason") else ""
        subject = outcome.get("snapshot") or outcome.get("target")
        lines.append(
            f"  [{outcome['action']}] {outcome.get('operation', '?')} {subject}: {outcome.get('outcome')}{reason}"
        )
    others = sorted(sid for sid, snap in source.items() if snap["tags"].get(owner_key) != owner)
    if others:
        lines.append("Snapshots this module instance does not own (left alone): " + ", ".join(others))
    if cycle.errors:
        lines.append("Invocation errors:")
        lines += [f"  {error}" for error in cycle.errors]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# The restore command, as an operator runs it on DR day (with the deployed function's settings)
# --------------------------------------------------------------------------------------------------


def run_restore_command(aws: Aws, function: DeployedFunction, *args: str) -> tuple[int, str, float]:
    """`rds-snapshot-dr restore --function-name <function> ...` against the stand-in.

    Returns the exit code, what it printed and the wall-clock seconds it took.
    """
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": function.region,
        "PYTHONPATH": str(REPO / "lambda_src"),
    }
    command = [sys.executable, "-m", "rds_snapshot_dr", "restore", "--function-name", function.name, *args]
    began = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our interpreter, our package, our arguments
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


# --------------------------------------------------------------------------------------------------
# scripts/demo
# --------------------------------------------------------------------------------------------------


def write_function_log(cycle: Cycle, path: Path) -> None:
    """Everything the function printed (JSON logs and EMF metrics), invocation by invocation."""
    with path.open("w") as sink:
        for stage, runs in cycle.invocations.items():
            for run in runs:
                sink.write(f"--- {stage}: {json.dumps(run.event)}\n{run.output}")
                sink.write(
                    f"--- returned: {json.dumps(run.result)}\n" if run.error is None else f"--- raised: {run.error}\n"
                )


def demo(example: Path, keep_dir: Path) -> int:
    """The main job on the local stand-in, with a progress line per stage. Exit code 0 = success."""
    started = time.monotonic()
    stages = 9

    def stage(number: int, text: str) -> None:
        log(f"[{number}/{stages}] {text}  ({time.monotonic() - started:4.0f}s)")

    keep_dir.mkdir(parents=True, exist_ok=True)
    terraform: Terraform | None = None
    applied = False
    failed = False
    # Terraform's working copy and state: removed on every way out (success, failure, Ctrl-C, SIGTERM);
    # what is worth keeping (logs) goes to keep_dir instead.
    workdir = Path(tempfile.mkdtemp(prefix="rds-snapshot-dr-demo-"))
    server = MotoServer(keep_dir / "moto-server.log")
    try:
        stage(1, "starting the stand-in (moto server on 127.0.0.1)")
        server.start()
        log(f"      listening on {server.endpoint}")
        aws = Aws(server.endpoint)
        estate = Estate()
        stage(2, f"seeding the estate in {estate.source_region}")
        seed_estate(aws, estate)
        log(
            f"      instances {', '.join(estate.instances)}; cluster {', '.join(estate.clusters)};"
            f" foreign snapshot {estate.foreign_snapshot}"
        )
        terraform = Terraform(example, workdir, server.endpoint, estate.variables(), keep_dir / "terraform.log")
        stage(3, f"terraform init ({example.relative_to(REPO)})")
        terraform.init()
        stage(4, "terraform apply")
        applied = True
        terraform.apply()
        log(f"      {len(terraform.managed_resources())} resources created")
        function = DeployedFunction.read(aws, estate.source_region, terraform.outputs()["lambda_function_name"])
        history = seed_history(aws, estate, function)
        log(f"      earlier runs' snapshots of {history.database}: {', '.join([*history.kept, history.expired])}")
        log(f"      and an impostor with the prefix but not the ownership tag: {history.impostor}")
        scheduled = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        stage(
            5,
            f"running the function: backup at {scheduled:%Y-%m-%d %H:%M}Z, "
            "snapshot-created events, copy-waiting, reconcile",
        )
        cycle = run_cycle(aws, function, scheduled, progress=lambda text: log(f"      {text}"))
        write_function_log(cycle, keep_dir / "function.log")
        stage(6, "summary")
        log(summary(aws, estate, cycle))
        failed = bool(cycle.errors)
        database = sorted(expected_targets(aws, function.environment))[0]
        stage(7, f"DR day: restore the newest DR copy of {database} with the command line")
        for args in (["--dry-run"], ["--identifier", f"{database}-restored", "--wait", "--poll-seconds", "1"]):
            log(
                f"      $ rds-snapshot-dr restore --function-name {function.name} --database {database} "
                + " ".join(args)
            )
            code, output, _seconds = run_restore_command(aws, function, "--database", database, *args)
            log("\n".join(f"      {line}" for line in output.rstrip().splitlines()))
            failed = failed or code != 0
    except (Exception, KeyboardInterrupt) as error:  # report, then still tear down
        failed = True
        log(f"FAILED: {type(error).__name__}: {error}")
    finally:
        try:
            if terraform is not None and applied:
                stage(8, "terraform destroy")
                try:
                    terraform.destroy()
                except Exception as error:
                    failed = True
                    log(f"FAILED: {error}")
        finally:  # a second Ctrl-C during destroy still stops the server and removes the directory
            try:
                stage(9, "stopping the stand-in")
                server.stop()
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    verdict = "demo FAILED" if failed else "demo OK"
    shown_dir = keep_dir.relative_to(REPO) if keep_dir.is_relative_to(REPO) else keep_dir
    log(f"{verdict} in {time.monotonic() - started:.0f}s (logs in {shown_dir})")
    return 1 if failed else 0


def _interrupt_on_sigterm() -> None:
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so clean-up in `finally` still runs."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the module's main job on a local stand-in for AWS.")
    sub = parser.add_subparsers(dest="command", required=True)
    # scripts/demo runs `stand_in.py demo "$@"`: its help names scripts/demo, the command people type.
    run = sub.add_parser(
        "demo",
        prog="scripts/demo",
        help="seed, apply, run backup -> events -> reconcile, report, destroy",
        description="The module's main job on a local stand-in for AWS (moto), no AWS account needed: seed "
        "databases, terraform apply an example, run backup -> snapshot-created events -> reconcile, print "
        "where every recovery point is, then terraform destroy and stop the stand-in.",
    )
    run.add_argument("--example", default="examples/basic", help="root module to apply (default: examples/basic)")
    args = parser.parse_args(argv)
    _interrupt_on_sigterm()
    example = (REPO / args.example).resolve()
    return demo(example, REPO / ".cache" / "demo")


if __name__ == "__main__":
    sys.exit(main())
