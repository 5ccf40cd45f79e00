"""The preflight action: the troubleshooting checklist as one pass/warn/fail report with a fix per line.

Preflight only reads. A failed check is a line of the report, never an exception: the invocation
returns the whole report (and logs one line per check) whatever it finds.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from rds_snapshot_dr.core.logs import log_decision
from rds_snapshot_dr.core.metrics import Metrics
from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.gateway.aws import AccountGateway, RdsGateway
from rds_snapshot_dr.rules import capacity, model, naming, option_groups, schedule
from rds_snapshot_dr.rules import selection as selection_rules
from rds_snapshot_dr.rules.errors import ACCESS_DENIED, AwsError
from rds_snapshot_dr.rules.events import ActionRequest
from rds_snapshot_dr.rules.model import Database, Kind, Operation

PASS, WARN, FAIL = "pass", "warn", "fail"
_RANK = {PASS: 0, WARN: 1, FAIL: 2}
_LEVELS = {PASS: logging.INFO, WARN: logging.WARNING, FAIL: logging.ERROR}


# States in which RDS will not take a snapshot and that do not pass on their own.
STUCK_STATES = frozenset(
    {
        "stopped",
        "stopping",
        "failed",
        "deleting",
        "storage-full",
        "restore-error",
        "insufficient-capacity",
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-parameters",
        "incompatible-restore",
    }
)
_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/")
_ARN_ACCOUNT = re.compile(r"^arn:(?P<partition>[^:]+):[^:]*:[^:]*:(?P<account>\d{12}):")


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    check: str
    status: str  # pass | warn | fail
    detail: str
    fix: str = ""


@dataclass
class PreflightReport:
    """The report; quacks like the engine's Report for the handler (metrics, failed, to_dict)."""

    checks: list[Check] = field(default_factory=list)
    metrics: Metrics = field(default_factory=lambda: Metrics(counts={}))
    action: str = "preflight"

    def add(self, check: Check) -> None:
        self.checks.append(check)
        log_decision(
            _LEVELS[check.status],
            f"preflight {check.check}: {check.status}",
            action="preflight",
            operation=Operation.PREFLIGHT,
            target=check.check,
            outcome=check.status,
            reason=check.detail,
            fix=check.fix,
        )

    @property
    def status(self) -> str:
        return max((c.status for c in self.checks), key=_RANK.__getitem__, default=PASS)

    @property
    def failed(self) -> bool:
        """Never: a failed check is reported, the invocation does not fail."""
        return False

    def to_dict(self) -> dict[str, Any]:
        summary = {status: sum(1 for c in self.checks if c.status == status) for status in _RANK}
        return {
            "action": "preflight",
            "status": self.status,
            "summary": summary,
            "checks": [asdict(c) for c in self.checks],
            "outcomes": [],
            "metrics": self.metrics.values(),
        }


@dataclass(frozen=True)
class Permission:
    """An action the function needs, the resources it is authorised against, and how to probe it."""

    action: str
    resources: list[str]
    context: Sequence[tuple[str, str | Sequence[str], str]] = field(default_factory=list)
    # (service, region, method, params) of the cheapest read call proving it; None for write actions
    probes: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class _Context:
    settings: Settings
    rds: RdsGateway
    account: AccountGateway
    now: datetime
    role_arn: str | None = None
    role_note: str = ""
    caller: str = ""
    partition: str = "aws"
    account_id: str = ""
    targets: list[Database] = field(default_factory=list)


def run(engine: Any, request: ActionRequest) -> PreflightReport:
    """Action "preflight" (same signature as Engine.backup / Engine.reconcile)."""
    return preflight(
        engine.settings,
        engine.aws,
        AccountGateway.from_settings(engine.settings),
        now=engine.now,
        requested=request.targets,
        role_arn=request.role_arn,
    )


def preflight(
    settings: Settings,
    rds: RdsGateway,
    account: AccountGateway,
    *,
    now: datetime,
    requested: Sequence[str] | None = None,
    role_arn: str | None = None,
) -> PreflightReport:
    """Run every check. `role_arn` is the function's role (the CLI knows it); else it is derived from
    the caller's identity, which is the function's role when preflight runs inside the function."""
    report = PreflightReport()
    ctx = _Context(settings, rds, account, now, role_arn=role_arn)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("identity", lambda: _identity(report, ctx)),
        ("regions", lambda: _regions(report, ctx)),
        ("targets", lambda: _targets(report, ctx, requested)),
        ("destination key", lambda: _key(report, ctx)),
        (f"quota {settings.source_region}", lambda: _quota(report, ctx, settings.source_region)),
        (f"quota {settings.destination_region}", lambda: _quota(report, ctx, settings.destination_region)),
        ("permissions", lambda: _permissions(report, ctx)),
    ]
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # a broken check is a line of the report, never a crash
            report.add(
                Check(
                    name,
                    WARN,
                    f"the check could not run: {type(exc).__name__}: {exc}",
                    "Run preflight again; if it repeats, check the function's network access to the AWS APIs.",
                )
            )
    return report


# --- identity ----------------------------------------------------------------------------------------


def _identity(report: PreflightReport, ctx: _Context) -> None:
    key = _ARN_ACCOUNT.match(ctx.settings.destination_kms_key_arn)
    if key:
        ctx.partition, ctx.account_id = key.group("partition"), key.group("account")
    try:
        ctx.caller = ctx.account.caller_arn(ctx.settings.source_region)
    except AwsError as error:
        ctx.role_note = f"the caller's identity is unknown ({error.code} on sts:GetCallerIdentity)"
        report.add(Check("identity", WARN, ctx.role_note, "Allow sts:GetCallerIdentity (no policy can deny it)."))
        return
    caller = re.match(r"^arn:(?P<partition>[^:]+):(?:sts|iam)::(?P<account>\d{12}):", ctx.caller)
    if caller:
        ctx.partition, ctx.account_id = caller.group("partition"), caller.group("account")
    if ctx.role_arn:
        report.add(Check("identity", PASS, f"checking the function's role {ctx.role_arn} (caller {ctx.caller})"))
        return
    assumed = _ASSUMED_ROLE.match(ctx.caller)
    if assumed:
        # The assumed-role ARN names the role without its IAM path (iam_role_path); GetRole gives the
        # full ARN that SimulatePrincipalPolicy needs. Without it, assume the root path "/".
        partition, account, role = assumed.group("partition", "account", "role")
        try:
            ctx.role_arn = ctx.account.role_arn(role, ctx.settings.source_region)
        except AwsError:
            ctx.role_arn = f"arn:{partition}:iam::{account}:role/{role}"
        report.add(Check("identity", PASS, f"running as role {ctx.role_arn} (from {ctx.caller})"))
        return
    ctx.role_note = f"the caller {ctx.caller} is not an assumed role, so the function's role is unknown"
    report.add(
        Check(
            "identity",
            WARN,
            ctx.role_note + "; permissions are checked with the caller's own credentials",
            'Run preflight in the function (aws lambda invoke ... \'{"action": "preflight"}\'), or give the CLI '
            "--function-name so it checks the function's role.",
        )
    )


# --- regions -----------------------------------------------------------------------------------------


def _regions(report: PreflightReport, ctx: _Context) -> None:
    s = ctx.settings
    if s.source_region == s.destination_region:
        report.add(
            Check(
                "regions",
                FAIL,
                f"source and destination are both {s.source_region}: a copy in the same region is no disaster recovery",
                "Set the module's aws.destination provider to another region.",
            )
        )
        return
    known = ctx.account.known_regions("rds")
    unknown = [r for r in (s.source_region, s.destination_region) if known and r not in known]
    key = _ARN_ACCOUNT.match(s.destination_kms_key_arn)
    key_region = s.destination_kms_key_arn.split(":")[3] if key else ""
    if key_region != s.destination_region:
        report.add(
            Check(
                "regions",
                FAIL,
                f"the destination key {s.destination_kms_key_arn} is in {key_region or 'no region'}, "
                f"not in the destination {s.destination_region}",
                "Use a KMS key of the destination region (a cross-region copy is encrypted in that region).",
            )
        )
    elif unknown:
        report.add(
            Check(
                "regions",
                WARN,
                f"source {s.source_region}, destination {s.destination_region}: {', '.join(unknown)} is not an RDS "
                "region this SDK knows",
                "Check the region name; a region newer than the function's SDK is fine.",
            )
        )
    else:
        report.add(Check("regions", PASS, f"source {s.source_region}, destination {s.destination_region}"))


# --- targets -----------------------------------------------------------------------------------------


def _targets(report: PreflightReport, ctx: _Context, requested: Sequence[str] | None) -> None:
    try:
        instances = ctx.rds.list_instances()
        clusters = ctx.rds.list_clusters()
    except AwsError as error:
        report.add(
            Check(
                "targets",
                FAIL,
                f"cannot list the databases in {error.region} ({error.code} on {error.action}: {error.message})",
                f"Allow {error.action} to the function's role.",
            )
        )
        return
    selection = selection_rules.targets(ctx.settings, instances, clusters, list(requested) if requested else None)
    ctx.targets = selection.targets
    for problem in [*selection.problems, *selection.refused]:
        report.add(Check(f"target {problem.target}", FAIL if problem.failed else WARN, problem.reason, problem.fix))
    if not selection.targets and not selection.problems and not selection.refused:
        report.add(
            Check(
                "targets",
                FAIL,
                f"no DB instance or cluster in {ctx.settings.source_region} carries the selection tags "
                f"{json.dumps(dict(ctx.settings.selection_tags))}",
                "Tag the databases, or name them in db_instance_identifiers / db_cluster_identifiers.",
            )
        )
    for db in selection.targets:
        report.add(_target_state(db))
        unmapped = option_groups.unmapped_target(ctx.settings, db)
        if unmapped is not None:
            report.add(Check(f"option group {db.identifier}", FAIL, *unmapped))


def _target_state(db: Database) -> Check:
    name = f"target {db.identifier}"
    if selection_rules.can_snapshot(db):
        return Check(name, PASS, f"{db.kind} exists and is {db.status}")
    if db.status in STUCK_STATES:
        return Check(
            name,
            FAIL,
            f"{db.kind} is {db.status}: backups skip it until it is available",
            "Start or repair the database, or remove it from the targets while it is out of service.",
        )
    return Check(
        name,
        WARN,
        f"{db.kind} is {db.status!r}: a backup now would skip it (usually transient)",
        "Wait until it is available; reconcile then retakes a snapshot the latest backup round missed.",
    )


# --- destination key ---------------------------------------------------------------------------------


def _key(report: PreflightReport, ctx: _Context) -> None:
    arn, region = ctx.settings.destination_kms_key_arn, ctx.settings.destination_region
    try:
        meta = ctx.account.describe_key(arn, region)
    except AwsError as error:
        if error.code == "NotFoundException":
            detail, fix = f"key {arn} does not exist in {region}", "Set kms_key_arn to a key of the destination region."
        elif error.code in ACCESS_DENIED:
            detail = f"kms:DescribeKey on {arn} is denied ({error.message})"
            fix = "Let the function's role use the key: the key policy must delegate to IAM (the account root may "
            fix += "kms:*) or name the role (the module's output kms_key_policy_statements), and the role's policy "
            fix += "must allow kms:DescribeKey (the module's policy does)."
        else:
            detail, fix = f"kms:DescribeKey on {arn} failed ({error.code}: {error.message})", "Check the key ARN."
        report.add(Check("destination key", FAIL, detail, fix))
        return
    problems = []
    if meta.get("KeyState") != "Enabled":
        problems.append(f"its state is {meta.get('KeyState')}")
    key_region = str(meta.get("Arn", arn)).split(":")[3]
    if key_region != region:
        problems.append(f"it lives in {key_region}, not in {region}")
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT" or meta.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        problems.append(f"it is a {spec} key; RDS needs a symmetric encryption key")
    if problems:
        report.add(
            Check(
                "destination key",
                FAIL,
                f"key {arn}: " + "; ".join(problems),
                f"Enable the key (or cancel its deletion), or set kms_key_arn to an enabled symmetric key in {region}.",
            )
        )
        return
    report.add(Check("destination key", PASS, f"{arn} exists, is Enabled, symmetric, in {region}"))
    _key_use(report, ctx)


def _principal_matches(principal: Any, names: set[str]) -> bool:
    if principal == "*":
        return True
    values = principal.get("AWS", []) if isinstance(principal, dict) else []
    values = [values] if isinstance(values, str) else values
    return any(value in names or value == "*" for value in values)


# What RDS asks KMS for with the caller's permissions when it creates a resource (a copy) under a
# customer managed key: "kms:CreateGrant" and "kms:DescribeKey", allowed in the key policy, or in an IAM
# policy where the key policy allows it (RDS User Guide, "AWS KMS key management"). RDS then works under
# the grant it creates for itself.
RDS_NEEDS_FROM_CALLER = ("kms:CreateGrant", "kms:DescribeKey")


def _policy_allows(policy: dict[str, Any], role_arn: str | None, root: str, account_id: str) -> dict[str, str]:
    """For each action RDS needs from the caller, who the key policy's Allow statements give it to: 'role'
    (the role is named), 'root' (the account: the key policy delegates to IAM, and the role's IAM policy
    decides) or '' (neither). Conditions are not evaluated."""
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    found = {}
    for wanted in RDS_NEEDS_FROM_CALLER:
        who = ""
        for statement in statements:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if not any(fnmatch.fnmatchcase(wanted.lower(), action.lower()) for action in actions):
                continue
            if role_arn and _principal_matches(statement.get("Principal", {}), {role_arn}):
                who = "role"
                break
            if _principal_matches(statement.get("Principal", {}), {root, account_id}):
                who = "root"
        found[wanted] = who
    return found


def _key_use(report: PreflightReport, ctx: _Context) -> None:
    """'May the function use the key': the key policy names the role, or delegates to IAM (the account),
    for what RDS asks with the role's permissions. A grant is not counted: a grant created from a grant
    may only carry its parent's operations (KMS Developer Guide, "Creating grants"), so a grant of
    CreateGrant and DescribeKey (what 1.x created on an existing key) never gives RDS Encrypt or Decrypt."""
    arn, region, role = ctx.settings.destination_kms_key_arn, ctx.settings.destination_region, ctx.role_arn
    checked = [f"kms:DescribeKey succeeded{' as ' + ctx.caller if ctx.caller else ''}"]
    unreadable: list[str] = []
    if role:
        try:
            grants = ctx.account.grants(arn, region)
        except AwsError as error:
            checked.append(f"grants not read ({error.code} on kms:ListGrants)")
        else:
            mine = [g for g in grants if g.get("GranteePrincipal") == role]
            note = " (not counted: a grant passes on only its own operations to the grant RDS makes from it)"
            checked.append(f"{len(mine)} grant(s) to {role}" + (note if mine else ""))
    found: dict[str, str] = {}
    try:
        policy = json.loads(ctx.account.key_policy(arn, region))
    except AwsError as error:
        unreadable.append(f"key policy ({error.code} on kms:GetKeyPolicy)")
    else:
        root = f"arn:{ctx.partition}:iam::{ctx.account_id}:root"
        found = _policy_allows(policy, role, root, ctx.account_id)
        checked.append("key policy Allow statements read (conditions not evaluated)")
    detail = "; ".join(checked)
    if unreadable or not role:
        why = ", ".join(unreadable) if unreadable else ctx.role_note or "the function's role is unknown"
        report.add(
            Check(
                "destination key use",
                WARN,
                f"{detail}; could not check {why}. A key the role may not use shows as KMSKeyNotAccessibleFault "
                "on the first copy",
                "Run the CLI preflight with --function-name and credentials that may read the key policy "
                "(kms:GetKeyPolicy) for a full check.",
            )
        )
        return
    missing = [action for action, who in found.items() if not who]
    if not missing:
        named = [action for action, who in found.items() if who == "role"]
        delegated = [action for action, who in found.items() if who == "root"]
        verdicts = []
        if named:
            verdicts.append(f"the key policy allows {role} {', '.join(named)}")
        if delegated:
            verdicts.append(
                f"the key policy delegates to IAM (account root) for {', '.join(delegated)}, so the role's IAM "
                "policy decides"
            )
        report.add(Check("destination key use", PASS, f"{'; '.join(verdicts)} ({detail})"))
        return
    report.add(
        Check(
            "destination key use",
            FAIL,
            f"the key policy of {arn} neither delegates to IAM nor names {role} for {', '.join(missing)}, which RDS "
            f"asks for with the function's permissions when it copies under the key ({detail})",
            f"Add to the key policy of {arn} the statements of the module's output kms_key_policy_statements: they "
            f"let {role} call kms:CreateGrant (only for AWS resources) and use the key only through "
            f"rds.{region}.amazonaws.com, and kms:DescribeKey. Or let IAM decide with the statement of KMS's "
            f'default key policy: Principal {{"AWS": "arn:{ctx.partition}:iam::{ctx.account_id}:root"}}, Action '
            '"kms:*" (the module\'s role policy already allows these actions, only through RDS). A grant to the role '
            "does not do: RDS's own grant may carry only the operations of the grant it comes from.",
        )
    )


# --- quotas ------------------------------------------------------------------------------------------


def _quota(report: PreflightReport, ctx: _Context, region: str) -> None:
    name = f"quota {region}"
    try:
        quotas = ctx.rds.manual_snapshot_quotas(region)
    except Exception as exc:  # AwsError, or an API the endpoint does not implement
        report.add(
            Check(
                name,
                WARN,
                f"quota unknown: rds:DescribeAccountAttributes failed in {region} ({exc})",
                f"Allow rds:DescribeAccountAttributes to the function's role in {region}, or check the quotas in "
                "the Service Quotas console (Manual DB instance snapshots / Manual DB cluster snapshots).",
            )
        )
        return
    if not quotas:
        report.add(Check(name, WARN, f"quota unknown: {region} reported no manual snapshot quota", ""))
        return
    need = {kind: sum(1 for db in ctx.targets if db.kind is kind) for kind in Kind}
    status, parts = PASS, []
    for quota, used, maximum in quotas:
        wanted = need[capacity.QUOTA_KIND[quota]]
        parts.append(f"{quota} {used}/{maximum} ({maximum - used} free, one backup needs {wanted})")
        verdict = capacity.headroom_verdict(used, maximum, wanted, ctx.settings.snapshot_quota_alarm_percent)
        status = max(status, str(verdict), key=_RANK.__getitem__)
    fix = "" if status == PASS else f"Prune manual snapshots in {region} or raise the quota in Service Quotas "
    if fix:
        fix += "(Amazon RDS: Manual DB instance snapshots / Manual DB cluster snapshots); lower retention or keep_last."
    report.add(Check(name, status, "; ".join(parts), fix))
    _capacity(report, ctx, region, {quota: (used, maximum) for quota, used, maximum in quotas})


def _capacity(report: PreflightReport, ctx: _Context, region: str, quotas: dict[str, tuple[int, int]]) -> None:
    """The steady state this instance will hold, against the quota less what others already use."""
    s = ctx.settings
    try:
        per_day = schedule.snapshots_per_day(s.backup_schedule_expression)
    except ValueError as exc:
        report.add(Check(f"capacity {region}", WARN, f"the backup schedule cannot be counted: {exc}", ""))
        return
    for need in capacity.snapshot_capacity(s, ctx.targets, per_day):
        if need.region != region or need.targets == 0 or need.quota_name not in quotas:
            continue
        name = f"capacity {region} {need.kind}"
        used, maximum = quotas[need.quota_name]
        try:
            ours = sum(1 for snap in ctx.rds.list_manual_snapshots(region, need.kind) if naming.is_owned(s, snap))
        except AwsError as error:
            report.add(
                Check(
                    name,
                    WARN,
                    f"cannot count this instance's own {need.kind} snapshots in {region} ({error.code} on "
                    f"{error.action}), so not what others use of the quota",
                    f"Allow {error.action} to the function's role.",
                )
            )
            continue
        others = max(0, used - ours)
        retention = s.source_retention_days if need.role == "source" else s.destination_retention_days
        detail = (
            f"{need.quota_title} in {region} ({need.role}): this instance holds up to {need.total} in steady "
            f"state ({need.targets} {need.kind}(s) x {need.per_target} at {_per_day_text(per_day)} and "
            f"{retention} days' retention, keep_last {s.keep_last}, + {need.in_flight} copies in flight); "
            f"others use {others}; quota {maximum}"
        )
        wanted = others + need.total
        request = capacity.quota_to_request(wanted, s.snapshot_quota_alarm_percent)
        fix = (
            f'Raise "{need.quota_title}" (Service Quotas, Amazon RDS, code {need.quota_code}) in {region} to '
            f"{request}: aws service-quotas request-service-quota-increase --service-code rds --quota-code "
            f"{need.quota_code} --desired-value {request} --region {region}. Or lower retention.{need.role}_days "
            "or keep_last, or split the databases between module instances in other accounts."
        )
        verdict = capacity.steady_state_verdict(wanted, maximum, s.snapshot_quota_alarm_percent)
        if verdict is capacity.QuotaVerdict.NO_ROOM:
            report.add(Check(name, FAIL, f"{detail}: {wanted} does not fit", fix))
        elif verdict is capacity.QuotaVerdict.NEAR_ALARM:
            report.add(
                Check(
                    name,
                    WARN,
                    f"{detail}: {wanted} fits, above {s.snapshot_quota_alarm_percent:g}% (the quota alarm)",
                    fix,
                )
            )
        else:
            report.add(Check(name, PASS, f"{detail}: {wanted} fits"))


def _per_day_text(per_day: float | None) -> str:
    return "one backup, once" if per_day is None else f"{per_day:g} backup(s) a day"


# --- permissions -------------------------------------------------------------------------------------


def request_context(s: Settings) -> list[tuple[str, str | list[str], str]]:
    """The condition keys of a backup's tags: every key the function can write on a new snapshot
    (tag_keys.json "snapshot_on_create" and snapshot_tags) and the owner tag's value."""
    keys = sorted(model.SNAPSHOT_ON_CREATE_TAGS | set(s.snapshot_tags) | {s.owner_tag_key})
    return [
        ("aws:TagKeys", keys, "stringList"),
        (f"aws:RequestTag/{s.owner_tag_key}", s.owner_tag_value, "string"),
    ]


def required_permissions(ctx: _Context) -> list[Permission]:
    """What the function calls, against which resources, with the condition keys the module's policy uses."""
    s = ctx.settings
    src = f"arn:{ctx.partition}:rds:{s.source_region}:{ctx.account_id}"
    dst = f"arn:{ctx.partition}:rds:{s.destination_region}:{ctx.account_id}"
    kinds = {db.kind for db in ctx.targets}
    kinds |= {Kind.INSTANCE} if s.db_instance_identifiers else set()
    kinds |= {Kind.CLUSTER} if s.db_cluster_identifiers else set()
    kinds = kinds or {Kind.INSTANCE, Kind.CLUSTER}
    sample = {kind: next((db.identifier for db in ctx.targets if db.kind is kind), "preflight") for kind in Kind}
    owner = [(f"aws:ResourceTag/{s.owner_tag_key}", s.owner_tag_value, "string")]
    via_rds = [("kms:ViaService", f"rds.{s.destination_region}.amazonaws.com", "string")]
    small = {"MaxRecords": 20}

    perms = [
        # The resource types the module's policy names for each Describe call (Service Authorization
        # Reference for Amazon RDS); only DescribeAccountAttributes has none.
        Permission(
            "rds:DescribeDBInstances",
            [f"{src}:db:*"],
            probes=[("rds", s.source_region, "describe_db_instances", small)],
        ),
        Permission(
            "rds:DescribeDBClusters",
            [f"{src}:cluster:*"],
            probes=[("rds", s.source_region, "describe_db_clusters", small)],
        ),
        Permission(
            "rds:DescribeDBSnapshots",
            [f"{src}:snapshot:*", f"{dst}:snapshot:*"],
            probes=[
                ("rds", region, "describe_db_snapshots", {"SnapshotType": "manual", **small})
                for region in (s.source_region, s.destination_region)
            ],
        ),
        Permission(
            "rds:DescribeDBClusterSnapshots",
            [f"{src}:cluster-snapshot:*", f"{dst}:cluster-snapshot:*"],
            probes=[
                ("rds", region, "describe_db_cluster_snapshots", {"SnapshotType": "manual", **small})
                for region in (s.source_region, s.destination_region)
            ],
        ),
        Permission(
            "rds:DescribeAccountAttributes",
            ["*"],
            probes=[("rds", s.source_region, "describe_account_attributes", {})],
        ),
        Permission(
            "kms:DescribeKey",
            [s.destination_kms_key_arn],
            probes=[("kms", s.destination_region, "describe_key", {"KeyId": s.destination_kms_key_arn})],
        ),
    ]
    for kind in sorted(kinds):
        api = "DBSnapshot" if kind is Kind.INSTANCE else "DBClusterSnapshot"
        db_type, snap_type = ("db", "snapshot") if kind is Kind.INSTANCE else ("cluster", "cluster-snapshot")
        name = naming.snapshot_name(s.snapshot_prefix, sample[kind], ctx.now)
        snaps = [f"{src}:{snap_type}:{name}", f"{dst}:{snap_type}:{name}"]
        # The context a real backup request carries, per resource: AWS authorises each resource of a
        # request on its own, with that resource's own condition keys. The database: its tags
        # (rds:db-tag/<key>, rds:cluster-tag/<key>) from a real selected database, else the selection
        # tags. The new snapshot: the request's tags, every key the function writes on create
        # (aws:TagKeys) and the owner tag (aws:RequestTag). A simulation without aws:TagKeys would pass a
        # ForAllValues condition that the real request fails.
        database = next((db for db in ctx.targets if db.kind is kind), None)
        db_tags = dict(database.tags) if database is not None and database.tags else dict(s.selection_tags)
        selected = [(f"rds:{db_type}-tag/{key}", value, "string") for key, value in db_tags.items()]
        request = request_context(s)
        counting = [
            ("aws:TagKeys", sorted(model.SNAPSHOT_LATER_TAGS), "stringList"),
            (f"aws:ResourceTag/{s.owner_tag_key}", s.owner_tag_value, "string"),
        ]
        perms += [
            Permission(f"rds:Create{api}", [f"{src}:{db_type}:{sample[kind]}"], [*selected, *request]),
            Permission(f"rds:Create{api}", [snaps[0]], request),
            Permission("rds:AddTagsToResource", [snaps[0]], request),
            Permission("rds:AddTagsToResource", [snaps[1]], request),
            Permission("rds:AddTagsToResource", [snaps[0]], counting),
            Permission(f"rds:Copy{api}", snaps),
            Permission(f"rds:Delete{api}", snaps, owner),
        ]
    key = [s.destination_kms_key_arn]
    perms += [
        Permission("kms:CreateGrant", key, [*via_rds, ("kms:GrantIsForAWSResource", "true", "boolean")]),
        Permission("kms:GenerateDataKey", key, via_rds),
        Permission("kms:Decrypt", key, via_rds),
    ]
    unique: dict[tuple[str, tuple[str, ...], str], Permission] = {}
    for perm in perms:
        unique.setdefault((perm.action, tuple(perm.resources), repr(perm.context)), perm)
    return list(unique.values())


def _permissions(report: PreflightReport, ctx: _Context) -> None:
    perms = required_permissions(ctx)
    fallback = ctx.role_note
    if ctx.role_arn:
        results: list[Check] = []
        for perm in perms:
            try:
                verdicts = ctx.account.simulate(
                    ctx.role_arn, perm.action, perm.resources, perm.context, ctx.settings.source_region
                )
            except Exception as exc:  # AwsError, or an endpoint without the policy simulator
                code = exc.code if isinstance(exc, AwsError) else type(exc).__name__
                fallback = f"iam:SimulatePrincipalPolicy on {ctx.role_arn} is unavailable ({code})"
                break
            results.append(_simulated(ctx, perm, verdicts))
        else:
            for check in results:
                report.add(check)
            return
    _probed(report, ctx, perms, fallback or "the function's role is unknown")


def _simulated(ctx: _Context, perm: Permission, verdicts: list[str]) -> Check:
    name = f"permission {perm.action}"
    where = ", ".join(perm.resources)
    context = "".join(
        f", {key}={'[' + ','.join(value) + ']' if isinstance(value, list) else value}" for key, value, _ in perm.context
    )
    if verdicts and all(v == "allowed" for v in verdicts):
        return Check(name, PASS, f"allowed on {where}{context} (simulated for {ctx.role_arn})")
    denied = "explicitly denied" if "explicitDeny" in verdicts else "not allowed"
    return Check(
        name,
        FAIL,
        f"{denied} on {where}{context} (simulated for {ctx.role_arn}; identity policies, permission boundary)",
        f"Allow {perm.action} on {where} in the function's role policy (the module's policy does), and check "
        "permission boundaries and SCPs.",
    )


def _probed(report: PreflightReport, ctx: _Context, perms: list[Permission], why: str) -> None:
    """Fallback: the cheapest read call per read permission, with the caller's own credentials."""
    who = ctx.caller or "the caller"
    for perm in perms:
        if not perm.probes:
            continue
        name = f"permission {perm.action}"
        try:
            for service, region, method, params in perm.probes:
                ctx.account.probe(service, region, method, perm.action, **params)
        except AwsError as error:
            status = FAIL if error.code in ACCESS_DENIED else WARN
            report.add(
                Check(
                    name,
                    status,
                    f"{method} as {who} in {error.region}: {error.code} ({why}, so checked by a read call)",
                    f"Allow {perm.action} to the function's role." if status == FAIL else "",
                )
            )
            continue
        except Exception as exc:  # an endpoint that does not implement the call
            report.add(Check(name, WARN, f"{method} could not be checked: {type(exc).__name__} ({why})"))
            continue
        regions = ", ".join(dict.fromkeys(p[1] for p in perm.probes))
        report.add(Check(name, PASS, f"{method} as {who} succeeded in {regions} ({why}, so checked by a read call)"))
    writes = sorted(dict.fromkeys(p.action for p in perms if not p.probes))
    report.add(
        Check(
            "permissions for writes",
            WARN,
            f"not verified: {', '.join(writes)} ({why}; no read call proves a write permission)",
            "Allow iam:SimulatePrincipalPolicy on the function's own role (the module's policy does) and run "
            "preflight in the function, or run the CLI preflight with --function-name.",
        )
    )
