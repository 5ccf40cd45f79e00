"""The authorization stage: every request the deployed function makes, judged by a real IAM evaluator.

moto enforces no IAM policy, no key policy and no grant, so every other test passes whatever the
policies say. Here each example (and a configuration with a permissions boundary) is applied on its
own stand-in, its function is driven through a recorded cycle (backup, snapshot-created events, copies,
copy-waiting, reconcile with pruning, the restore drill and its finish), every recorded request is
mapped to the authorizations AWS performs for it (authorizations.py), and each is judged by
@cloud-copilot/iam-simulate against the policies Terraform rendered, read back from the stand-in.

A request the function makes that is denied fails, naming the request, the resource, the context and
the statements that grant the action. Probes that must be denied fail when allowed.
"""

from __future__ import annotations

import collections
import json
import re

import pytest
from authorizations import Authorization
from deployment import SCHEDULED, RecordedRun, run_preflight
from judge import Policies, judge, lint, write_report
from stand_in import REPO

pytestmark = pytest.mark.authz


def _granting_statements(policies: Policies, action: str) -> list[str]:
    """Sids of the identity statements whose Action names `action` (where an author meant to allow it)."""
    found = []
    for policy in policies.identity:
        for statement in policy["policy"].get("Statement", []):
            actions = statement.get("Action", [])
            for pattern in [actions] if isinstance(actions, str) else actions:
                regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
                if re.match(regex, action, re.IGNORECASE):
                    found.append(f"{policy['name']}:{statement.get('Sid', '?')}")
    return found


def _runs(recorded: dict[str, list[RecordedRun]]) -> list[RecordedRun]:
    return [run for runs in recorded.values() for run in runs]


def test_every_function_ran_its_cycle_without_an_error(recorded):
    errors = {f"{run.example}/{run.function.name}": run.cycle.errors for run in _runs(recorded) if run.cycle.errors}
    assert errors == {}


def test_every_request_is_mapped_to_the_authorizations_aws_performs(recorded, verdicts):
    unknown = {f"{run.example}/{run.function.name}": sorted(set(run.unknown)) for run in _runs(recorded) if run.unknown}
    assert unknown == {}, "authorizations.py does not know these requests: map them"


def test_every_request_the_function_makes_is_allowed(recorded, verdicts):
    runs = {f"{run.example}/{run.function.name}": run for run in _runs(recorded)}
    denied = []
    for name, judged in verdicts.items():
        for verdict in judged:
            if not verdict.allowed:
                should = _granting_statements(runs[name].policies, verdict.auth.action) or ["none names the action"]
                denied.append(f"{name}: {verdict.describe()}; statements granting it: {', '.join(should)}")
    assert denied == [], "denied in a real account:\n" + "\n".join(denied)


def test_the_cycle_exercises_every_request_type_of_the_function(verdicts):
    judged = collections.Counter(
        (verdict.auth.request, verdict.auth.action) for judged in verdicts.values() for verdict in judged
    )
    requests = {request for request, _action in judged}
    expected = {
        "rds:CreateDBSnapshot",
        "rds:CreateDBClusterSnapshot",
        "rds:CopyDBSnapshot",
        "rds:CopyDBClusterSnapshot",
        "rds:DeleteDBSnapshot",
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
        "rds:DescribeAccountAttributes",
        "rds:RestoreDBInstanceFromDBSnapshot",
        "rds:DeleteDBInstance",
        "ssm:GetParameter",
        "ssm:PutParameter",
        "scheduler:GetSchedule",
        "scheduler:UpdateSchedule",
    }
    assert expected <= requests, f"not exercised: {sorted(expected - requests)}"
    # KMS through RDS: the copy's key and the source snapshot's key are judged too.
    assert judged[("rds:CopyDBSnapshot", "kms:CreateGrant")] > 0
    # the copy-waiting switch passes the scheduler role again
    assert judged[("scheduler:UpdateSchedule", "iam:PassRole")] > 0
    write_report("authz-judged.txt", "the recorded cycle of every configuration", judged)


def test_no_statement_has_a_condition_key_its_action_or_resource_type_lacks(recorded):
    """Such a condition never matches: the statement is dead (an Allow) or always applies (a Deny)."""
    policies = {}
    for run in _runs(recorded):
        for policy in run.policies.identity:
            policies[f"{run.example}/{policy['name']}"] = policy["policy"]
        if run.policies.boundary:
            policies[f"{run.example}/boundary"] = run.policies.boundary
        for key, document in run.policies.key_policies.items():
            policies[f"{run.example}/key:{key.rsplit('/', 1)[-1]}"] = document
    assert lint(policies) == []


def test_parliament_finds_nothing_outside_the_allowlist(recorded):
    """parliament (scripts/iam_lint.py) on every rendered identity policy; the allowlist explains each
    finding it keeps, and an entry that explains nothing fails too."""
    import iam_lint

    documents = {}
    for run in _runs(recorded):
        role = run.policies.principal.rsplit("/", 1)[-1]
        for policy in run.policies.identity:
            documents[f"{run.example}/{role}/inline:{policy['name']}"] = json.dumps(policy["policy"], sort_keys=True)
    unexplained, stale = iam_lint.judge(iam_lint.lint(documents), iam_lint.load_allowlist())
    assert [str(f) for f in unexplained] == []
    assert stale == []


def _documented_sids() -> set[str]:
    """The statement ids the IAM section of docs/iam.md documents (first column of its tables)."""
    text = (REPO / "docs" / "iam.md").read_text()
    assert "\n## IAM\n" in text, "docs/iam.md has no '## IAM' section"
    section = text[text.index("\n## IAM\n") :]
    section = section[: section.index("\n## ", 1)]
    sids = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            sids |= set(re.findall(r"`([A-Za-z]+)`", first))
    return sids


def test_the_docs_document_exactly_the_rendered_statements(recorded):
    rendered = {
        statement["Sid"]
        for run in _runs(recorded)
        for policy in run.policies.identity
        for statement in policy["policy"]["Statement"]
    }
    documented = _documented_sids()
    assert documented, "docs/iam.md's IAM section documents no statement"
    assert sorted(rendered - documented) == [], "rendered but not in the IAM section of docs/iam.md"
    assert sorted(documented - rendered) == [], "in the IAM section of docs/iam.md but rendered by no configuration"


def test_an_aurora_drill_as_the_code_plans_it_is_allowed(recorded):
    """The cycle drills the first database in rotation, an instance; an Aurora drill (the cluster restore and
    its writer's CreateDBInstance) is judged from the requests restore.plan_restore builds, so the drill's
    cluster-pg, default option group, subnet group and rds:PubliclyAccessible are judged too."""
    from authorizations import authorizations
    from recorder import Call

    from rds_snapshot_dr.core.settings import load_settings
    from rds_snapshot_dr.rules import restore
    from rds_snapshot_dr.rules.model import SOURCE_TAG, Kind, Snapshot

    drilled = [run for run in _runs(recorded) if "DRILL_SETTINGS" in run.function.environment]
    assert drilled, "no configuration with a restore drill was recorded"
    denied, judged = [], collections.Counter()
    for run in drilled:
        settings = load_settings(run.function.environment)
        assert settings.drill is not None
        region = settings.destination_region
        name = f"{settings.snapshot_prefix}-inventory-aurora-{SCHEDULED:%Y%m%d-%H%M}"
        arn = f"arn:aws:rds:{region}:{run.where.account}:cluster-snapshot:{name}"
        copy = Snapshot(
            Kind.CLUSTER, name, arn, region, "available", "manual", SCHEDULED, {SOURCE_TAG: "inventory-aurora"}
        )
        portable = {
            "Engine": ("aurora-postgresql", restore.FROM_SNAPSHOT),
            "DBInstanceClass": ("db.r6g.large", restore.FROM_DRILL),
        }
        plan = restore.plan_restore(
            copy,
            restore.drill_identifier(settings, SCHEDULED),
            portable,
            {},
            settings.drill.regional,
            extra_tags=restore.drill_tags(settings, copy, SCHEDULED),
        )
        state = {arn: {"engine": "aurora-postgresql", "engine_version": "16.4", "tags": dict(copy.tags)}}
        calls = [
            Call("drill", "rds", "RestoreDBClusterFromSnapshot", region, plan.api_params(), resources=state),
            Call("drill", "rds", "CreateDBInstance", region, plan.api_params(plan.writer)),
        ]
        auths = [a for call in calls for a in authorizations(call, run.where)]
        for verdict in judge(auths, run.policies, run.where.account):
            judged[(verdict.auth.action, verdict.auth.resource.split(":")[5])] += 1
            if not verdict.allowed:
                denied.append(f"{run.example}: {verdict.describe()}")
    assert denied == []
    for kind in ("cluster", "cluster-snapshot", "subgrp", "og", "cluster-pg"):
        assert judged[("rds:RestoreDBClusterFromSnapshot", kind)] == len(drilled), kind
    for kind in ("db", "cluster"):
        assert judged[("rds:CreateDBInstance", kind)] == len(drilled), kind


# --- preflight: its permission checks carry the context a real request carries ----------------------


def _permission_checks(result: dict) -> list[dict]:
    return [check for check in result["checks"] if check["check"].startswith("permission ")]


def test_preflight_judged_by_the_evaluator_passes_every_permission(recorded):
    """preflight's iam:SimulatePrincipalPolicy answered by the real evaluator over the rendered policy."""
    run = recorded["by-tag"][0]
    result, calls = run_preflight(run.deployed, run, run.policies)
    checks = _permission_checks(result)
    assert len(checks) > 10
    failing = [f"{c['check']}: {c['detail']}" for c in checks if c["status"] != "pass"]
    assert not failing, "\n".join(failing)
    # preflight's own requests (GetRole, the key's policy and grants, the listings) are allowed too
    from authorizations import authorizations

    judged = judge([a for call in calls for a in authorizations(call, run.where)], run.policies, ACCOUNT)
    assert {v.auth.request for v in judged} >= {"iam:GetRole", "iam:SimulatePrincipalPolicy", "kms:GetKeyPolicy"}
    assert [v.describe() for v in judged if not v.allowed] == []


def test_preflight_would_have_caught_the_denied_backup_tags_of_1_0_0(recorded):
    """Issue 19, finding 1: on 1.0.0's TagOwnSnapshotsOnCreate (no rds-snapshot-dr:portable among the
    allowed keys) preflight now fails AddTagsToResource: it passes the aws:TagKeys a backup carries."""
    run = recorded["by-tag"][0]
    env = run.function.environment
    names = f"{env['SNAPSHOT_PREFIX']}-*-????????-????"
    old_statement = {
        "Sid": "TagOwnSnapshotsOnCreate",
        "Effect": "Allow",
        "Action": "rds:AddTagsToResource",
        "Resource": [
            f"arn:aws:rds:{region}:{ACCOUNT}:{kind}:{names}"
            for region in (SOURCE, DESTINATION)
            for kind in ("snapshot", "cluster-snapshot")
        ],
        "Condition": {
            "ForAllValues:StringEquals": {
                "aws:TagKeys": [
                    "rds-snapshot-dr:backup-round",
                    "rds-snapshot-dr:owner",
                    "rds-snapshot-dr:source",
                    "rds-snapshot-dr:source-type",
                ]
            },
            "StringEqualsIfExists": {"aws:RequestTag/rds-snapshot-dr:owner": env["OWNER_TAG_VALUE"]},
        },
    }
    replaced = {"TagOwnSnapshotsOnCreate", "TagOwnCopies", "CountCopyFailures"}
    identity = []
    for policy in run.policies.identity:
        statements = [st for st in policy["policy"]["Statement"] if st.get("Sid") not in replaced]
        if len(statements) != len(policy["policy"]["Statement"]):
            statements.append(old_statement)
        identity.append({"name": policy["name"], "policy": {**policy["policy"], "Statement": statements}})
    old = Policies(
        run.policies.principal, identity, run.policies.boundary, run.policies.key_policies, run.policies.grants
    )

    result, _calls = run_preflight(run.deployed, run, old)

    failed = {c["check"] for c in _permission_checks(result) if c["status"] == "fail"}
    assert failed == {"permission rds:AddTagsToResource"}


# --- the evaluator and the mapping can fail: the 1.0.0 policy is denied -------------------------


def test_a_statement_that_names_a_db_tag_on_a_snapshot_is_found():
    """The 1.0.0 shape of SnapshotTaggedInstances (issue 19, finding 2): db and snapshot under rds:db-tag."""
    statement = {
        "Sid": "SnapshotTaggedInstances",
        "Effect": "Allow",
        "Action": "rds:CreateDBSnapshot",
        "Resource": ["arn:aws:rds:us-east-1:123456789012:db:*", "arn:aws:rds:us-east-1:123456789012:snapshot:dr-*"],
        "Condition": {"StringEquals": {"rds:db-tag/dr-protect": "daily"}},
    }
    found = lint({"old": {"Version": "2012-10-17", "Statement": [statement]}})
    assert [(f["sid"], f["resource"].rsplit(":", 2)[1], f["key"]) for f in found] == [
        ("SnapshotTaggedInstances", "snapshot", "rds:db-tag/dr-protect")
    ]


# --- probes: what the function must never be allowed to do ----------------------------------------

SOURCE, DESTINATION, ACCOUNT = "us-east-1", "us-west-2", "123456789012"


def _rds(region: str, kind: str, name: str) -> str:
    return f"arn:aws:rds:{region}:{ACCOUNT}:{kind}:{name}"


def _probe(
    action: str, resource: str, context: dict[str, str | list[str]] | None = None, key: bool = False
) -> Authorization:
    from recorder import Call

    region = resource.split(":")[3]
    call = Call("probe", action.split(":")[0], action.split(":")[1], region, {})
    return Authorization(action, resource, dict(context or {}), call, key_arn=resource if key else None)


def _key(name: str) -> str:
    """A tag key from a keyword argument: "rds_snapshot_dr__owner" -> "rds-snapshot-dr:owner"."""
    return name.replace("__", ":").replace("_", "-")


def _tags(kind: str, **tags: str) -> dict[str, str | list[str]]:
    """The condition keys of a `kind` resource's own tags, as authorizations.tag_context builds them."""
    from authorizations import tag_context

    return tag_context(_rds(SOURCE, kind, "any"), {_key(key): value for key, value in tags.items()})


def _request(**tags: str) -> dict[str, str | list[str]]:
    from authorizations import request_tag_context

    return request_tag_context({_key(key): value for key, value in tags.items()})


def _probes(run: RecordedRun) -> list[tuple[str, Authorization]]:
    """(what, authorization) that must be denied to this function."""
    env = run.function.environment
    prefix, owner = env["SNAPSHOT_PREFIX"], env["OWNER_TAG_VALUE"]
    key = env["DESTINATION_KMS_KEY_ARN"]
    # A person's snapshot under this instance's exact naming, without the ownership tag.
    lookalike = f"{prefix}-analytics-scratch-{SCHEDULED:%Y%m%d-%H%M}"
    foreign = _tags("snapshot", team="data")
    probes = [
        (
            "count a copy failure on a look-alike snapshot (no owner tag)",
            _probe(
                "rds:AddTagsToResource",
                _rds(SOURCE, "snapshot", lookalike),
                {**foreign, **_request(rds_snapshot_dr__copy_failures="1")},
            ),
        ),
        (
            "delete a look-alike snapshot (no owner tag)",
            _probe("rds:DeleteDBSnapshot", _rds(SOURCE, "snapshot", lookalike), foreign),
        ),
        (
            "delete a look-alike copy (no owner tag)",
            _probe("rds:DeleteDBSnapshot", _rds(DESTINATION, "snapshot", lookalike), foreign),
        ),
        (
            "delete someone else's manual snapshot",
            _probe("rds:DeleteDBSnapshot", _rds(SOURCE, "snapshot", "nightly-export-orders-db"), foreign),
        ),
        (
            "create a snapshot under a name this instance does not give",
            _probe(
                "rds:CreateDBSnapshot",
                _rds(SOURCE, "snapshot", "nightly-export-orders-db"),
                _request(**{"rds_snapshot_dr__owner": owner}),
            ),
        ),
        (
            "create an owned-looking snapshot without the ownership tag",
            _probe(
                "rds:CreateDBSnapshot",
                _rds(SOURCE, "snapshot", f"{prefix}-orders-db-20261125-1400"),
                _request(team="x"),
            ),
        ),
        (
            "snapshot a database this instance does not select",
            _probe("rds:CreateDBSnapshot", _rds(SOURCE, "db", "analytics-scratch"), _tags("db", dr_tier="silver")),
        ),
        (
            "put the drill tag on a real database",
            _probe(
                "rds:AddTagsToResource", _rds(DESTINATION, "db", "payments-db"), _request(rds_snapshot_dr__drill=owner)
            ),
        ),
        (
            "delete a database that is not a drill database",
            _probe("rds:DeleteDBInstance", _rds(SOURCE, "db", "payments-db"), _tags("db", team="platform")),
        ),
        (
            "delete a DR-region database that is not a drill database",
            _probe("rds:DeleteDBInstance", _rds(DESTINATION, "db", "payments-db"), _tags("db", team="platform")),
        ),
        ("decrypt with the DR key outside RDS", _probe("kms:Decrypt", key, {"kms:CallerAccount": ACCOUNT}, key=True)),
        ("encrypt with the DR key outside RDS", _probe("kms:Encrypt", key, {"kms:CallerAccount": ACCOUNT}, key=True)),
    ]
    probes += _drill_probes(run)
    probes += _schedule_probes(run)
    # Issue 19, finding 4: the module no longer grants an existing key to the role (the grant let it
    # create grants for any principal, with no kms:ViaService).
    probes.append(("let the DR key be granted to a principal outside AWS services", _grant_outside(key)))
    return probes


def _schedule_probes(run: RecordedRun) -> list[tuple[str, Authorization]]:
    """The copy-waiting switch may change that one schedule, and pass the scheduler role only to Scheduler."""
    arn = run.function.environment.get("COPY_WAITING_SCHEDULE_ARN", "")
    if not arn:
        return []
    group = arn.split(":schedule/", 1)[1].split("/", 1)[0]
    backup = arn.rsplit("/", 1)[0] + f"/{group}-backup"
    scheduler_role = f"{run.where.role_arn}-scheduler"  # the module names it after the function's role
    # the role the recorded switch really passed (allowed in the cycle): the probe denies another use of that one
    passed = {c.params["Target"]["RoleArn"] for c in run.calls if c.operation == "UpdateSchedule"}
    assert passed <= {scheduler_role}, passed
    to_scheduler = {"iam:PassedToService": "scheduler.amazonaws.com"}
    return [
        ("change the backup schedule", _probe("scheduler:UpdateSchedule", backup)),
        (
            "change a schedule of another group",
            _probe("scheduler:UpdateSchedule", arn.replace(f"schedule/{group}/", "schedule/default/")),
        ),
        (
            "pass the scheduler role to another service",
            _probe("iam:PassRole", scheduler_role, {"iam:PassedToService": "lambda.amazonaws.com"}),
        ),
        ("pass the function's own role to Scheduler", _probe("iam:PassRole", run.where.role_arn, to_scheduler)),
    ]


def _drill_probes(run: RecordedRun) -> list[tuple[str, Authorization]]:
    """Issue 19, findings 6 and 7: the drill's role against a person's look-alike database, and a restore
    into another network or group, or a publicly accessible one (rds:PubliclyAccessible is a condition key
    of RestoreDBInstanceFromDBSnapshot and CreateDBInstance, not of RestoreDBClusterFromSnapshot)."""
    name = run.function.environment["OWNER_TAG_VALUE"]
    drill = f"drill-{name}-{SCHEDULED:%Y%m%d%H%M}"
    lookalike = f"drill-{name}-reporting"  # a person's database: a name the drill never gives
    tag = _request(rds_snapshot_dr__drill=name)
    private = {**tag, "rds:PubliclyAccessible": "false"}
    public = {**tag, "rds:PubliclyAccessible": "true"}
    restore, restore_cluster = "rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot"
    return [
        (
            "put the drill tag on a person's look-alike database",
            _probe("rds:AddTagsToResource", _rds(DESTINATION, "db", lookalike), {**_tags("db", team="data"), **tag}),
        ),
        (
            "put the drill tag on a person's look-alike cluster",
            _probe(
                "rds:AddTagsToResource",
                _rds(DESTINATION, "cluster", lookalike),
                {**_tags("cluster", team="data"), **tag},
            ),
        ),
        (
            "delete a person's look-alike database that carries the drill tag",
            _probe(
                "rds:DeleteDBInstance", _rds(DESTINATION, "db", lookalike), _tags("db", rds_snapshot_dr__drill=name)
            ),
        ),
        (
            "delete a person's look-alike cluster that carries the drill tag",
            _probe(
                "rds:DeleteDBCluster",
                _rds(DESTINATION, "cluster", lookalike),
                _tags("cluster", rds_snapshot_dr__drill=name),
            ),
        ),
        (
            "restore a drill database under a look-alike name",
            _probe(restore, _rds(DESTINATION, "db", f"{drill}-reporting"), private),
        ),
        (
            "restore a drill database into another subnet group",
            _probe(restore, _rds(DESTINATION, "subgrp", "public-subnets"), private),
        ),
        (
            "restore a drill cluster into another subnet group",
            _probe(restore_cluster, _rds(DESTINATION, "subgrp", "public-subnets"), tag),
        ),
        (
            "restore a drill database with another option group",
            _probe(restore, _rds(DESTINATION, "og", "someone-elses-options"), private),
        ),
        (
            "restore a drill database with another parameter group",
            _probe(restore, _rds(DESTINATION, "pg", "someone-elses-parameters"), private),
        ),
        (
            "restore a drill cluster with another cluster parameter group",
            _probe(restore_cluster, _rds(DESTINATION, "cluster-pg", "someone-elses-parameters"), tag),
        ),
        (
            "restore a publicly accessible drill database",
            _probe(restore, _rds(DESTINATION, "db", drill), public),
        ),
        (
            "restore a drill database without saying it is not publicly accessible",
            _probe(restore, _rds(DESTINATION, "db", drill), tag),
        ),
        (
            "create a publicly accessible drill writer",
            _probe("rds:CreateDBInstance", _rds(DESTINATION, "db", f"{drill}-w"), public),
        ),
    ]


def _grant_outside(key: str) -> Authorization:
    return _probe(
        "kms:CreateGrant", key, {"kms:CallerAccount": ACCOUNT, "kms:GrantIsForAWSResource": "false"}, key=True
    )


# What IAM cannot express (docs/iam.md, "What IAM cannot express"): RDS has no condition key that tells
# tagging on create from a later AddTagsToResource, and IAM's "?" is any character, so the role may put its
# tag on an existing resource whose name has exactly the shape of the names it gives. Only the function's
# exact-name rules protect such a look-alike. Judged here so the docs' statement cannot go stale: a
# probe that becomes denied fails this test (then move it to _probes and correct docs/iam.md).
IAM_CANNOT_EXPRESS = {
    "the owner tag on a snapshot whose name only matches <prefix>-*-????????-????": (
        "by-tag",
        lambda run: _probe(
            "rds:AddTagsToResource",
            _rds(
                SOURCE,
                "snapshot",
                f"{run.function.environment['SNAPSHOT_PREFIX']}-orders-db-20260101-0300-retained-2027",
            ),
            {
                **_tags("snapshot", team="data"),
                **_request(rds_snapshot_dr__owner=run.function.environment["OWNER_TAG_VALUE"]),
            },
        ),
    ),
    "the drill tag on a DR-region database named drill-<name>- and 12 characters": (
        "boundary",
        lambda run: _probe(
            "rds:AddTagsToResource",
            _rds(DESTINATION, "db", f"drill-{run.function.environment['OWNER_TAG_VALUE']}-abcdefghijkl"),
            {
                **_tags("db", team="data"),
                **_request(rds_snapshot_dr__drill=run.function.environment["OWNER_TAG_VALUE"]),
            },
        ),
    ),
}


def test_what_iam_cannot_express_is_still_allowed_as_the_readme_says(recorded):
    still_allowed = {}
    for what, (example, make) in IAM_CANNOT_EXPRESS.items():
        run = recorded[example][0]
        [verdict] = judge([make(run)], run.policies, ACCOUNT)
        still_allowed[what] = verdict.allowed
    assert still_allowed == dict.fromkeys(IAM_CANNOT_EXPRESS, True)


def _other_instances_probes(recorded: dict[str, list[RecordedRun]]) -> list[tuple[str, RecordedRun, Authorization]]:
    """examples/for-each: one module instance against the snapshots of another."""
    runs = recorded["for-each"]
    found = []
    for run in runs:
        for other in runs:
            if other is run:
                continue
            env = other.function.environment
            database = (env["DB_INSTANCE_IDENTIFIERS"] or env["DB_CLUSTER_IDENTIFIERS"]).split(",")[0]
            kind = "snapshot" if env["DB_INSTANCE_IDENTIFIERS"] else "cluster-snapshot"
            name = f"{env['SNAPSHOT_PREFIX']}-{database}-20261125-1400"
            tags = _tags(kind, rds_snapshot_dr__owner=env["OWNER_TAG_VALUE"])
            action = "rds:DeleteDBSnapshot" if kind == "snapshot" else "rds:DeleteDBClusterSnapshot"
            for region in (SOURCE, DESTINATION):
                found.append(
                    (
                        f"delete {other.function.name}'s snapshot {name} in {region}",
                        run,
                        _probe(action, _rds(region, kind, name), tags),
                    )
                )
    return found


def test_every_probe_is_denied(recorded):
    allowed = []
    judged = 0
    for run in _runs(recorded):
        probes = _probes(run)
        if run.example == "for-each" and run is recorded["for-each"][0]:
            probes += [(what, auth) for what, other_run, auth in _other_instances_probes(recorded) if other_run is run]
        for (what, _auth), verdict in zip(probes, judge([a for _, a in probes], run.policies, ACCOUNT), strict=True):
            judged += 1
            if verdict.result != "ImplicitlyDenied" and verdict.result != "ExplicitlyDenied":
                allowed.append(
                    f"{run.example}/{run.function.name}: {what}: {verdict.describe()} by {verdict.allowed_by}"
                )
    assert judged >= 7 * 12
    assert allowed == [], "allowed, but must be denied:\n" + "\n".join(allowed)


# --- the destination key and the alarm key: what their policies let others do ----------------------

OTHER_ACCOUNT = "111122223333"  # tests/authz/boundary shares its DR copies with this account


def _admin_of_another_account() -> Policies:
    """A role of another account whose own policy allows every KMS action: the key policy decides."""
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    return Policies(f"arn:aws:iam::{OTHER_ACCOUNT}:role/dr-restore", [{"name": "kms-admin", "policy": admin}])


def test_another_account_uses_the_destination_key_only_through_rds(recorded):
    """Issue 19, finding 10: kms_key_cross_account_principals may use the key for snapshots shared with
    them, through RDS in the key's region, never directly."""
    run = recorded["boundary"][0]
    key = run.function.environment["DESTINATION_KMS_KEY_ARN"]
    region = key.split(":")[3]
    policies = _admin_of_another_account()
    policies.key_policies[key] = run.policies.key_policies[key]
    caller = {"kms:CallerAccount": OTHER_ACCOUNT, "aws:PrincipalAccount": OTHER_ACCOUNT}
    via = {**caller, "kms:ViaService": f"rds.{region}.amazonaws.com"}
    for_rds = {"kms:GrantIsForAWSResource": "true"}
    cases = {
        "decrypt directly": (_probe("kms:Decrypt", key, caller, key=True), False),
        "encrypt directly": (_probe("kms:Encrypt", key, caller, key=True), False),
        "generate a data key directly": (_probe("kms:GenerateDataKey", key, caller, key=True), False),
        "create a grant for an AWS resource, not through RDS": (
            _probe("kms:CreateGrant", key, {**caller, **for_rds}, key=True),
            False,
        ),
        "create a grant through RDS for a principal": (
            _probe("kms:CreateGrant", key, {**via, "kms:GrantIsForAWSResource": "false"}, key=True),
            False,
        ),
        "decrypt through RDS": (_probe("kms:Decrypt", key, via, key=True), True),
        "create a grant through RDS for RDS": (_probe("kms:CreateGrant", key, {**via, **for_rds}, key=True), True),
        "describe the key through RDS": (_probe("kms:DescribeKey", key, via, key=True), True),
    }
    verdicts = judge([auth for auth, _ in cases.values()], policies, ACCOUNT)
    assert {what: v.allowed for what, v in zip(cases, verdicts, strict=True)} == {
        what: allowed for what, (_, allowed) in cases.items()
    }


def _alarm_key(run: RecordedRun) -> tuple[str, dict]:
    """The key of the module's alarm topic, and its key policy as the stand-in holds it."""
    aws, region = run.deployed.aws, run.function.region
    sns, kms = aws.client("sns", region), aws.client("kms", region)
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith("-alarms")]
    key = kms.describe_key(KeyId=sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"])
    arn = key["KeyMetadata"]["Arn"]
    return arn, json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])


def test_cloudwatch_uses_the_alarm_key_only_for_alarms_of_this_account(recorded):
    """Issue 19, finding 10: the alarm topic's key lets the CloudWatch service principal use it only on
    behalf of this account (aws:SourceAccount)."""
    run = recorded["boundary"][0]
    key, key_policy = _alarm_key(run)
    region = key.split(":")[3]
    policies = Policies("cloudwatch.amazonaws.com", [], key_policies={key: key_policy})
    alarm = f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:bounded-rds-snapshot-dr-function-errors"
    other_alarm = f"arn:aws:cloudwatch:{region}:{OTHER_ACCOUNT}:alarm:anything"
    cases = {
        "for an alarm of another account": (
            _probe(
                "kms:GenerateDataKey", key, {"aws:SourceAccount": OTHER_ACCOUNT, "aws:SourceArn": other_alarm}, True
            ),
            False,
        ),
        "for an alarm of this account": (
            _probe("kms:GenerateDataKey", key, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm}, True),
            True,
        ),
        "decrypt for an alarm of this account": (
            _probe("kms:Decrypt", key, {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm}, True),
            True,
        ),
    }
    verdicts = judge([auth for auth, _ in cases.values()], policies, ACCOUNT)
    assert {what: v.allowed for what, v in zip(cases, verdicts, strict=True)} == {
        what: allowed for what, (_, allowed) in cases.items()
    }, [v.describe() for v in verdicts]


# --- an existing key: its key policy decides, not a grant (issue 19, finding 4) -------------------

SOMEONE_ELSE_ADMINISTERS = {
    "Sid": "KeyAdministrators",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/platform-key-admin"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_an_existing_key_that_neither_delegates_nor_names_the_role_refuses_rds(recorded):
    """The evaluator judges the key policy: on a key whose policy neither delegates to IAM nor names the
    role, the kms:CreateGrant RDS asks for the role is denied; with the statements of the module's
    kms_key_policy_statements output added, it is allowed."""
    run = recorded["complete"][0]
    key = run.function.environment["DESTINATION_KMS_KEY_ARN"]
    through_rds = [a for a in run.authorizations() if a.key_arn == key and a.action == "kms:CreateGrant"]
    assert through_rds, "the cycle copies with the existing key"
    closed = {"Version": "2012-10-17", "Statement": [SOMEONE_ELSE_ADMINISTERS]}
    denied = judge(
        through_rds, Policies(run.policies.principal, run.policies.identity, key_policies={key: closed}), ACCOUNT
    )
    assert [v.result for v in denied] == ["ImplicitlyDenied"] * len(through_rds)

    statements = json.loads(run.deployed.terraform.outputs()["kms_key_policy_statements"])["Statement"]
    named = {"Version": "2012-10-17", "Statement": [SOMEONE_ELSE_ADMINISTERS, *statements]}
    every_key_use = [a for a in run.authorizations() if a.key_arn == key]
    allowed = judge(
        every_key_use, Policies(run.policies.principal, run.policies.identity, key_policies={key: named}), ACCOUNT
    )
    assert [v.describe() for v in allowed if not v.allowed] == []


def test_preflight_says_what_an_existing_key_that_refuses_the_role_needs(recorded):
    """The same key policy on the stand-in's key: preflight fails the key-use check and names the fix."""
    run = recorded["complete"][0]
    key = run.function.environment["DESTINATION_KMS_KEY_ARN"]
    kms = run.deployed.aws.client("kms", key.split(":")[3])
    original = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    closed = {"Version": "2012-10-17", "Statement": [SOMEONE_ELSE_ADMINISTERS]}
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(closed), BypassPolicyLockoutSafetyCheck=True)
    try:
        result, _calls = run_preflight(run.deployed, run, run.policies)
    finally:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=original, BypassPolicyLockoutSafetyCheck=True)
    [line] = [c for c in result["checks"] if c["check"] == "destination key use"]
    assert line["status"] == "fail", line
    assert "kms_key_policy_statements" in line["fix"]
