#!/usr/bin/env python3
"""Fleet benchmark (a measurement, not a test): what the engine costs at 10, 100 and 1,000 databases.

Against moto in-process (no AWS account), prints:
- backup and reconcile over a fleet of DB instances plus clusters: wall time, time inside AWS calls
  (moto emulating the API) and in the engine (the rest), AWS API calls per target (botocore
  `before-call` hooks), peak traced memory (tracemalloc, engine + moto in one process);
- cold start: import time of the handler module and first-client creation, median of several fresh
  interpreters, and peak RSS against the function's 128 MB;
- `terraform plan` time and resource count for the for_each example at 10 and 50 databases and for
  one module instance selecting 50 databases by tag (providers pointed at a local moto server).

    python3 benchmarks/fleet.py                                  # everything, default sizes
    python3 benchmarks/fleet.py --sizes 10,100 --skip-terraform  # quick
    TF_CLI_CONFIG_FILE=... python3 benchmarks/fleet.py --tf-sizes 10,50 --skip-fleet --skip-cold-start
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_SRC = ROOT / "lambda_src"
sys.path.insert(0, str(LAMBDA_SRC))

SOURCE, DESTINATION = "us-east-1", "us-west-2"
LAMBDA_LIMIT_S = 900
MEMORY_MB = 128
TARGETS = {"backup": 3, "reconcile": 4}  # most AWS calls per target allowed per invocation


def fake_aws_environment() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="benchmark",
        AWS_SECRET_ACCESS_KEY="benchmark",  # noqa: S106 - moto only
        AWS_DEFAULT_REGION=SOURCE,
        MOTO_RDS_SNAPSHOT_LIMIT="100000",  # moto enforces a manual-snapshot quota; a fleet needs more
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


# --- fleet --------------------------------------------------------------------------------------------


class CallMeter:
    """Counts AWS calls and the time spent inside them, through botocore event hooks on the session."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.in_calls = 0.0
        self.active = False
        self._started: list[float] = []

    def before(self, model: Any, **_: Any) -> None:
        if self.active:
            self.calls[model.name] += 1
            self._started.append(time.perf_counter())

    def after(self, **_: Any) -> None:
        if self.active and self._started:
            self.in_calls += time.perf_counter() - self._started.pop()

    def reset(self) -> None:
        self.calls.clear()
        self.in_calls = 0.0


def quota_answer(**_: Any) -> tuple[Any, dict[str, Any]]:
    """moto 5.2 in-process lacks DescribeAccountAttributes: answer it as AWS would."""
    from botocore.awsrequest import AWSResponse

    quotas = [
        {"AccountQuotaName": "ManualSnapshots", "Used": 10, "Max": 100},
        {"AccountQuotaName": "ManualClusterSnapshots", "Used": 5, "Max": 100},
    ]
    return AWSResponse("https://rds.amazonaws.com", 200, {}, None), {
        "AccountQuotas": quotas,
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


def run_fleet(size: int, cluster_share: float) -> list[dict[str, Any]]:
    import boto3
    from moto import mock_aws

    from rds_snapshot_dr import handler
    from rds_snapshot_dr.gateway.aws import CLIENTS

    clusters = max(1, round(size * cluster_share))
    instances = size - clusters
    meter = CallMeter()
    rows = []
    with mock_aws():
        handler.reset()
        events = CLIENTS.session.events
        events.register("before-call.*.*", meter.before)
        events.register("after-call.*.*", meter.after)
        events.register_first("before-call.rds.DescribeAccountAttributes", quota_answer)
        key = boto3.client("kms", region_name=DESTINATION).create_key()["KeyMetadata"]["Arn"]
        os.environ.update(
            SOURCE_REGION=SOURCE,
            DESTINATION_REGION=DESTINATION,
            DESTINATION_KMS_KEY_ARN=key,
            SNAPSHOT_PREFIX="dr",
            OWNER_TAG_KEY="rds-snapshot-dr:owner",
            OWNER_TAG_VALUE="fleet",
            DB_INSTANCE_IDENTIFIERS="",
            DB_CLUSTER_IDENTIFIERS="",
            SELECTION_TAGS='{"backup": "dr"}',
            SNAPSHOT_TAGS="{}",
            SOURCE_RETENTION_DAYS="7",
            DESTINATION_RETENTION_DAYS="14",
            KEEP_LAST="1",
            COPY_CONCURRENCY_LIMIT="20",
            METRICS_NAMESPACE="RdsSnapshotDr",
            TIME_BUDGET_RESERVE_MS="10000",
            BOTO_MAX_ATTEMPTS="3",
            BOTO_RETRY_MODE="standard",
            LOG_LEVEL="ERROR",
            BACKUP_SCHEDULE_EXPRESSION="cron(0 3 * * ? *)",
            BACKUP_SCHEDULE_TIMEZONE="UTC",
            # moto answers at once: no pacing here (the fleet simulation measures the budget)
            RDS_API_REQUESTS_PER_SECOND="300",
            RDS_API_CONCURRENT_INVOCATIONS="1",
        )
        handler.current_settings.cache_clear()
        rds = boto3.client("rds", region_name=SOURCE)
        tags = [{"Key": "backup", "Value": "dr"}]
        for i in range(instances):
            rds.create_db_instance(
                DBInstanceIdentifier=f"db-{i:04d}",
                DBInstanceClass="db.t3.micro",
                Engine="postgres",
                MasterUsername="admin",
                MasterUserPassword="not-a-secret-1",
                AllocatedStorage=20,
                Tags=tags,
            )
        for i in range(clusters):
            rds.create_db_cluster(
                DBClusterIdentifier=f"cluster-{i:04d}",
                Engine="aurora-postgresql",
                MasterUsername="admin",
                MasterUserPassword="not-a-secret-1",
                Tags=tags,
            )

        class Context:
            def get_remaining_time_in_millis(self) -> int:
                return LAMBDA_LIMIT_S * 1000

        def invoke(event: dict[str, Any], now: datetime, trace: bool) -> tuple[float, float, int]:
            handler.utcnow = lambda: now
            meter.reset()
            meter.active = True
            if trace:
                tracemalloc.start()
            began = time.perf_counter()
            quiet = contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO())
            with quiet[0], quiet[1], contextlib.suppress(Exception):
                handler.lambda_handler(event, Context())
            wall = time.perf_counter() - began
            peak = 0
            if trace:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            meter.active = False
            return wall, meter.in_calls, peak

        day1 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
        day2 = day1 + timedelta(days=1)
        # backup, timed; a second backup (another scheduled time, same work) for the memory peak
        wall, in_calls, _ = invoke({"action": "backup", "scheduled_time": day1.isoformat()}, day1, False)
        backup_calls = sum(meter.calls.values())
        _, _, peak = invoke({"action": "backup", "scheduled_time": day2.isoformat()}, day2, True)
        rows.append(_row("backup", size, instances, clusters, wall, in_calls, backup_calls, peak, meter))

        # the older snapshot of every database already has its copy (a steady state to prune from)
        dst = boto3.client("rds", region_name=DESTINATION)
        for snap in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
            if snap["DBSnapshotIdentifier"].endswith(f"{day1:%Y%m%d-%H%M}"):
                dst.copy_db_snapshot(
                    SourceDBSnapshotIdentifier=snap["DBSnapshotArn"],
                    TargetDBSnapshotIdentifier=snap["DBSnapshotIdentifier"],
                    KmsKeyId=key,
                    CopyTags=True,
                    SourceRegion=SOURCE,
                )
        for snap in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]:
            if snap["DBClusterSnapshotIdentifier"].endswith(f"{day1:%Y%m%d-%H%M}"):
                dst.copy_db_cluster_snapshot(
                    SourceDBClusterSnapshotIdentifier=snap["DBClusterSnapshotArn"],
                    TargetDBClusterSnapshotIdentifier=snap["DBClusterSnapshotIdentifier"],
                    KmsKeyId=key,
                    CopyTags=True,
                    SourceRegion=SOURCE,
                )
        # reconcile 30 days later: copies the newer snapshots (20 at a time), prunes the older sources
        later = datetime.now(UTC) + timedelta(days=30)
        wall, in_calls, _ = invoke({"action": "reconcile"}, later, False)
        reconcile_calls = sum(meter.calls.values())
        detail = dict(meter.calls)
        _, _, peak = invoke({"action": "reconcile"}, later, True)
        meter.calls = Counter(detail)
        rows.append(_row("reconcile", size, instances, clusters, wall, in_calls, reconcile_calls, peak, meter))
    handler.reset()
    return rows


def _row(
    action: str,
    size: int,
    instances: int,
    clusters: int,
    wall: float,
    in_calls: float,
    calls: int,
    peak: int,
    meter: Any,
) -> dict[str, Any]:
    return {
        "action": action,
        "targets": size,
        "instances": instances,
        "clusters": clusters,
        "wall_s": wall,
        "aws_s": in_calls,
        "engine_s": wall - in_calls,
        "calls": calls,
        "calls_per_target": calls / size,
        "ms_per_target": 1000 * wall / size,
        "engine_ms_per_target": 1000 * (wall - in_calls) / size,
        "peak_mb": peak / 2**20,
        "by_operation": dict(sorted(meter.calls.items())),
    }


# --- cold start ---------------------------------------------------------------------------------------

# Peak RSS of this process image: VmHWM (ru_maxrss would carry the parent's peak across fork+exec on Linux).
PEAK = """
import json, resource, time
def peak_rss_mb():
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
COLD_START = (
    PEAK
    + """
t0 = time.perf_counter()
import rds_snapshot_dr.handler
t1 = time.perf_counter()
from rds_snapshot_dr.gateway.aws import CLIENTS
CLIENTS.client("rds", "us-east-1", "standard", 3)
CLIENTS.client("rds", "us-west-2", "standard", 3)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "clients_s": t2 - t1, "maxrss_mb": peak_rss_mb()}))
"""
)


def cold_start(runs: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_SRC)}
    samples = []
    for _ in range(runs):
        out = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", COLD_START], env=env, capture_output=True, text=True, check=True
        ).stdout
        samples.append(json.loads(out))
    bare = [
        json.loads(
            subprocess.run(  # noqa: S603
                [sys.executable, "-c", PEAK + _BARE],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["maxrss_mb"]
        for _ in range(runs)
    ]
    return {
        "import_ms": 1000 * statistics.median(s["import_s"] for s in samples),
        "clients_ms": 1000 * statistics.median(s["clients_s"] for s in samples),
        "maxrss_mb": statistics.median(s["maxrss_mb"] for s in samples),
        "bare_maxrss_mb": statistics.median(bare),
        "runs": runs,
    }


_BARE = 'print(json.dumps({"maxrss_mb": peak_rss_mb()}))\n'


# --- terraform plan -----------------------------------------------------------------------------------

PROVIDER = """
provider "aws" {{{alias}
  region                      = "{region}"
  access_key                  = "benchmark"
  secret_key                  = "benchmark"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {{
    sts = "{endpoint}"
    iam = "{endpoint}"
    kms = "{endpoint}"
  }}
}}
"""


def _providers(endpoint: str) -> str:
    """The source (default) and destination provider configurations, both against the local server."""
    source = PROVIDER.format(alias="", region="eu-west-1", endpoint=endpoint)
    destination = PROVIDER.format(alias='\n  alias = "destination"', region="eu-central-1", endpoint=endpoint)
    return source + destination


BY_TAG = """
module "rds_snapshot_dr" {{
  source = "{root}"
  providers = {{
    aws             = aws
    aws.destination = aws.destination
  }}
  name           = "fleet"
  selection_tags = {{ backup = "dr" }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terraform_plans(sizes: list[int], runs: int) -> list[dict[str, Any]]:
    terraform = shutil.which("terraform")
    if not terraform:
        return [{"case": "terraform not found on PATH", "resources": 0, "plan_s": float("nan")}]
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        rows = []
        with tempfile.TemporaryDirectory(prefix="rds-snapshot-dr-plan-") as tmp:
            plugin_cache = Path(tmp) / "plugins"
            for size in sizes:
                databases = {f"db{i:03d}": {"db_instance_identifiers": [f"db-{i:03d}"]} for i in range(size)}
                rows.append(
                    _plan(terraform, Path(tmp) / f"for-each-{size}", "for_each", size, endpoint, databases, runs)
                )
            largest = max(sizes)
            rows.append(_plan(terraform, Path(tmp) / f"by-tag-{largest}", "by_tag", largest, endpoint, None, runs))
            del plugin_cache
        return rows
    finally:
        server.terminate()
        server.wait(timeout=10)


def _plan(
    terraform: str, work: Path, case: str, size: int, endpoint: str, databases: dict[str, Any] | None, runs: int
) -> dict[str, Any]:
    work.mkdir(parents=True)
    root = os.path.relpath(ROOT, work)
    if databases is not None:
        example = ROOT / "examples" / "for-each"
        for path in example.glob("*.tf"):
            if path.name == "providers.tf":
                continue
            # relative, as the example has them: an absolute path makes Terraform copy the module as a package,
            # whose own "../" paths (modules/destination-kms-key) may not leave it
            text = path.read_text().replace('"../../modules/', f'"{root}/modules/').replace('"../../"', f'"{root}"')
            (work / path.name).write_text(text)
        (work / "terraform.tfvars.json").write_text(json.dumps({"databases": databases}))
        label = f"for_each example, {size} databases ({size} module instances)"
    else:
        (work / "main.tf").write_text(BY_TAG.format(root=root))
        (work / "versions.tf").write_text((ROOT / "examples" / "for-each" / "versions.tf").read_text())
        label = f"1 module instance selecting {size} databases by tag"
    (work / "providers.tf").write_text(_providers(endpoint))
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    subprocess.run(  # noqa: S603
        [terraform, "init", "-input=false", "-no-color"], cwd=work, env=env, check=True, capture_output=True
    )
    times, count = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        result = subprocess.run(  # noqa: S603
            [terraform, "plan", "-input=false", "-no-color", "-refresh=false", "-out=plan.bin"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        times.append(time.perf_counter() - began)
        if result.returncode != 0:
            return {"case": label, "resources": 0, "plan_s": float("nan"), "error": result.stderr[-2000:]}
        shown = subprocess.run(  # noqa: S603
            [terraform, "show", "-json", "plan.bin"], cwd=work, env=env, capture_output=True, text=True, check=True
        ).stdout
        count = sum(1 for c in json.loads(shown).get("resource_changes", []) if "create" in c["change"]["actions"])
    return {"case": label, "resources": count, "plan_s": statistics.median(times)}


# --- output -------------------------------------------------------------------------------------------


def print_fleet(rows: list[dict[str, Any]]) -> None:
    print("\n## Engine over a fleet (moto in-process)\n")
    print(
        "| action | targets (instances + clusters) | wall s | in AWS calls (moto) s | engine s | API calls | "
        "calls/target | target | ms/target | engine ms/target | peak traced MB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        ok = "ok" if r["calls_per_target"] <= TARGETS[r["action"]] else "MISSED"
        print(
            f"| {r['action']} | {r['targets']} ({r['instances']} + {r['clusters']}) | {r['wall_s']:.2f} | "
            f"{r['aws_s']:.2f} | {r['engine_s']:.2f} | {r['calls']} | {r['calls_per_target']:.2f} | "
            f"<= {TARGETS[r['action']]} {ok} | {r['ms_per_target']:.2f} | {r['engine_ms_per_target']:.3f} | "
            f"{r['peak_mb']:.1f} |"
        )
    print("\nAPI calls by operation:")
    for r in rows:
        print(f"- {r['action']} {r['targets']}: {json.dumps(r['by_operation'])}")


def print_cold_start(c: dict[str, float]) -> None:
    print(f"\n## Cold start (median of {c['runs']} fresh interpreters)\n")
    print("| import handler ms | first 2 RDS clients ms | peak RSS MB | bare interpreter RSS MB | of 128 MB |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {c['import_ms']:.0f} | {c['clients_ms']:.0f} | {c['maxrss_mb']:.1f} | {c['bare_maxrss_mb']:.1f} | "
        f"{100 * c['maxrss_mb'] / MEMORY_MB:.0f}% |"
    )


def print_plans(rows: list[dict[str, Any]]) -> None:
    print("\n## terraform plan (providers against a local moto server, -refresh=false)\n")
    print("| root module | resources to create | plan s (median) |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['resources']} | {r['plan_s']:.1f} |")
        if r.get("error"):
            print(f"\n```\n{r['error']}\n```\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="fleet sizes (default 10,100,1000)")
    parser.add_argument("--cluster-share", type=float, default=0.1, help="share of Aurora clusters (default 0.1)")
    parser.add_argument("--cold-start-runs", type=int, default=7)
    parser.add_argument("--tf-sizes", default="10,50", help="for_each example sizes; the largest also by tag")
    parser.add_argument("--tf-runs", type=int, default=3, help="plans per case (median)")
    parser.add_argument("--skip-fleet", action="store_true")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--skip-terraform", action="store_true")
    args = parser.parse_args()
    fake_aws_environment()
    print(f"python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d}")
    if not args.skip_fleet:
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            rows += run_fleet(size, args.cluster_share)
        print_fleet(rows)
        for action in ("backup", "reconcile"):
            per = {r["targets"]: r["ms_per_target"] for r in rows if r["action"] == action}
            eng = {r["targets"]: r["engine_ms_per_target"] for r in rows if r["action"] == action}
            print(
                f"- {action}: ms/target by size {json.dumps({k: round(v, 2) for k, v in per.items()})}, "
                f"engine-only ms/target {json.dumps({k: round(v, 3) for k, v in eng.items()})}"
            )
    if not args.skip_cold_start:
        print_cold_start(cold_start(args.cold_start_runs))
    if not args.skip_terraform:
        print_plans(terraform_plans([int(s) for s in args.tf_sizes.split(",")], args.tf_runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
