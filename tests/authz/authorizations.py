"""From a request the function made to the authorizations AWS performs for it.

One API request is often several authorizations: AWS authorizes each resource type an action requires
on its own (a multi-resource action is one decision per resource), tags given on create are authorized
again as rds:AddTagsToResource on the new resource, and RDS uses the caller's permissions on the KMS
keys it works with (kms:ViaService names RDS). Each resource is judged with its own condition keys at
that moment: its tags as aws:ResourceTag/<key> and RDS's per-type key (rds:db-tag/<key> on a db,
rds:snapshot-tag/<key> on a snapshot, ...); the request's tags as aws:RequestTag/<key>, rds:req-tag/<key>
and aws:TagKeys. The evaluator drops keys an action or resource type does not have, as AWS does.

Sources (resource types per action, condition keys per resource type): the Service Authorization
Reference, "Actions, resources, and condition keys for Amazon RDS"
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html), and the
RDS User Guide, "Grant permission to tag Amazon RDS resources during creation"
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/security_iam_id-based-policy-examples-create-and-tag.html).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recorder import Call

# RDS's condition key for a resource's own tags, by resource type.
TAG_KEY_OF_TYPE = {
    "db": "rds:db-tag",
    "cluster": "rds:cluster-tag",
    "snapshot": "rds:snapshot-tag",
    "cluster-snapshot": "rds:cluster-snapshot-tag",
}


@dataclass(frozen=True)
class Where:
    """The account and principal the function runs as."""

    account: str
    partition: str
    role_arn: str

    def rds_arn(self, region: str, kind: str, identifier: str) -> str:
        if identifier.startswith("arn:"):
            return identifier
        return f"arn:{self.partition}:rds:{region}:{self.account}:{kind}:{identifier}"


@dataclass
class Authorization:
    """One decision AWS makes: may `principal` do `action` on `resource` with this context?"""

    action: str
    resource: str
    context: dict[str, str | list[str]]
    call: Call
    principal: str = ""
    # The KMS key whose key policy (and grants) take part, when the resource is a key.
    key_arn: str | None = None
    why: str = ""  # why AWS performs this authorization, for the report

    @property
    def request(self) -> str:
        return f"{self.call.service}:{self.call.operation}"


def resource_type(arn: str) -> str:
    """The RDS resource type of an ARN ("db", "snapshot", ...), or "" for anything else."""
    parts = arn.split(":")
    return parts[5] if len(parts) > 6 and parts[2] == "rds" else ""


def tag_context(arn: str, tags: dict[str, str]) -> dict[str, str | list[str]]:
    """The condition keys of a resource's own tags: aws:ResourceTag and RDS's key for its type."""
    context: dict[str, str | list[str]] = {}
    rds_key = TAG_KEY_OF_TYPE.get(resource_type(arn))
    for key, value in tags.items():
        context[f"aws:ResourceTag/{key}"] = value
        if rds_key:
            context[f"{rds_key}/{key}"] = value
    return context


def request_tag_context(tags: dict[str, str]) -> dict[str, str | list[str]]:
    """The condition keys of the tags a request sets."""
    context: dict[str, str | list[str]] = {}
    if not tags:
        return context
    for key, value in tags.items():
        context[f"aws:RequestTag/{key}"] = value
        context[f"rds:req-tag/{key}"] = value
    context["aws:TagKeys"] = sorted(tags)
    return context


def _tags(params: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in params.get("Tags") or []}


# --- which existing resources a request names (looked up before it runs) -------------------------


def existing_resources(where: Where) -> Callable[[Call], list[tuple[str, str]]]:
    """For the recorder: (region, ARN) of each existing resource a request names."""

    def named(call: Call) -> list[tuple[str, str]]:
        p, region = call.params, call.region
        op = call.operation
        found: list[tuple[str, str]] = []
        if call.service != "rds":
            return found
        if op == "CreateDBSnapshot":
            found.append((region, where.rds_arn(region, "db", p["DBInstanceIdentifier"])))
        elif op == "CreateDBClusterSnapshot":
            found.append((region, where.rds_arn(region, "cluster", p["DBClusterIdentifier"])))
        elif op == "CopyDBSnapshot":
            source = p["SourceDBSnapshotIdentifier"]
            found.append(
                (
                    source.split(":")[3] if source.startswith("arn:") else region,
                    where.rds_arn(region, "snapshot", source),
                )
            )
        elif op == "CopyDBClusterSnapshot":
            source = p["SourceDBClusterSnapshotIdentifier"]
            found.append(
                (
                    source.split(":")[3] if source.startswith("arn:") else region,
                    where.rds_arn(region, "cluster-snapshot", source),
                )
            )
        elif op == "AddTagsToResource":
            found.append((region, p["ResourceName"]))
        elif op == "DeleteDBSnapshot":
            found.append((region, where.rds_arn(region, "snapshot", p["DBSnapshotIdentifier"])))
        elif op == "DeleteDBClusterSnapshot":
            found.append((region, where.rds_arn(region, "cluster-snapshot", p["DBClusterSnapshotIdentifier"])))
        elif op == "DeleteDBInstance":
            found.append((region, where.rds_arn(region, "db", p["DBInstanceIdentifier"])))
        elif op == "DeleteDBCluster":
            found.append((region, where.rds_arn(region, "cluster", p["DBClusterIdentifier"])))
        elif op == "RestoreDBInstanceFromDBSnapshot":
            found.append((region, where.rds_arn(region, "snapshot", p["DBSnapshotIdentifier"])))
        elif op == "RestoreDBClusterFromSnapshot":
            snapshot = p["SnapshotIdentifier"]
            found.append((region, where.rds_arn(region, "cluster-snapshot", snapshot)))
        return found

    return named


# --- the mapping ---------------------------------------------------------------------------------


# The operations of the grant RDS creates for itself on a customer managed key with the caller's
# kms:CreateGrant (RDS User Guide, "AWS KMS key management": the caller needs kms:CreateGrant and
# kms:DescribeKey). AWS does not document the grant's operations; these are the ones RDS needs to read
# and write an encrypted snapshot, and kms:GrantOperations matters only where the caller's CreateGrant
# comes from a grant (a child grant may only pass on its parent's operations: KMS Developer Guide,
# "Creating grants").
RDS_GRANT_OPERATIONS = [
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
]


# Requests that need no authorization of the caller's policies, with the reason.
NOT_AUTHORIZED = {
    "sts:GetCallerIdentity": "needs no permission (AWS STS API Reference, GetCallerIdentity)",
}


def _describe(call: Call, where: Where, kind: str, id_param: str, parent: tuple[str, str] | None = None) -> list[str]:
    """A describe call: the named resource, or every resource of the kind in the region."""
    identifier = call.params.get(id_param)
    resources = [where.rds_arn(call.region, kind, identifier or "*")]
    if parent and call.params.get(parent[1]):
        resources.append(where.rds_arn(call.region, parent[0], call.params[parent[1]]))
    return resources


def _through_rds(call: Call, where: Where, key_arn: str, region: str, what: str) -> list[Authorization]:
    """What RDS asks KMS with the caller's permissions when it works under a customer managed key:
    kms:CreateGrant (a grant for RDS itself) and kms:DescribeKey, through RDS in the key's region."""
    via: dict[str, str | list[str]] = {
        "kms:ViaService": f"rds.{region}.amazonaws.com",
        "kms:CallerAccount": where.account,
    }
    grant: dict[str, str | list[str]] = {
        **via,
        "kms:GrantIsForAWSResource": "true",
        "kms:GrantOperations": RDS_GRANT_OPERATIONS,
        "kms:GranteePrincipal": f"rds.{region}.amazonaws.com",
    }
    return [
        Authorization("kms:CreateGrant", key_arn, grant, call, where.role_arn, key_arn=key_arn, why=what),
        Authorization("kms:DescribeKey", key_arn, via, call, where.role_arn, key_arn=key_arn, why=what),
    ]


def _default_groups(engine: str, version: str) -> tuple[str, str]:
    """The option group and parameter group RDS uses when a restore names none: "default:<engine>-<major>"
    and "default.<engine><major>" (RDS User Guide, "Working with option groups" / "parameter groups")."""
    major = (
        version.split(".")[0]
        if engine.startswith(("postgres", "aurora-postgresql"))
        else ".".join(version.split(".")[:2])
    )
    return f"default:{engine}-{major.replace('.', '-')}", f"default.{engine}{major}"


def _create_database(call: Call, where: Where, on: Callable[..., None]) -> list[Authorization]:
    """A restore (or an Aurora writer's CreateDBInstance): every resource type the action requires —
    the new database, the snapshot, the subnet group, option group and parameter group it uses, named or
    default — the tags on create, and the snapshot's key through RDS."""
    p, region, op = call.params, call.region, call.operation
    action = f"rds:{op}"
    tags = _tags(p)
    extra: list[Authorization] = []
    cluster = op == "RestoreDBClusterFromSnapshot"
    new = where.rds_arn(
        region, "cluster" if cluster else "db", p["DBClusterIdentifier" if cluster else "DBInstanceIdentifier"]
    )
    # rds:PubliclyAccessible is a condition key of RestoreDBInstanceFromDBSnapshot and CreateDBInstance (not of
    # RestoreDBClusterFromSnapshot: the evaluator drops it there), in the request's context only when the
    # request sets PubliclyAccessible; an absent key matches no condition.
    public: dict[str, str | list[str]] = {}
    if "PubliclyAccessible" in p:
        public["rds:PubliclyAccessible"] = "true" if p["PubliclyAccessible"] else "false"

    def with_public(arn: str, request_tags: dict[str, str] | None = None, why: str = "") -> None:
        on(action, arn, request_tags=request_tags or tags, why=why, extra=public)

    with_public(new, tags, "the new database")
    snapshot_state: dict[str, Any] = {}
    if op == "RestoreDBInstanceFromDBSnapshot":
        snap = where.rds_arn(region, "snapshot", p["DBSnapshotIdentifier"])
        snapshot_state = call.resources.get(snap, {})
        with_public(snap, why="the snapshot restored from")
    elif cluster:
        snap = where.rds_arn(region, "cluster-snapshot", p["SnapshotIdentifier"])
        snapshot_state = call.resources.get(snap, {})
        with_public(snap, why="the snapshot restored from")
    else:
        if p.get("DBClusterIdentifier"):
            with_public(where.rds_arn(region, "cluster", p["DBClusterIdentifier"]), why="the cluster it joins")
        # CreateDBInstance's group resource types are optional: authorized when the request names them.
        for kind, param in (("subgrp", "DBSubnetGroupName"), ("og", "OptionGroupName"), ("pg", "DBParameterGroupName")):
            if p.get(param):
                with_public(where.rds_arn(region, kind, p[param]), why=f"{kind} the request names")
    if op != "CreateDBInstance":
        option, parameter = _default_groups(
            snapshot_state.get("engine") or "", snapshot_state.get("engine_version") or "0"
        )
        with_public(where.rds_arn(region, "subgrp", p.get("DBSubnetGroupName") or "default"), why="subnet group")
        with_public(where.rds_arn(region, "og", p.get("OptionGroupName") or option), why="option group")
        if cluster:
            with_public(
                where.rds_arn(region, "cluster-pg", p.get("DBClusterParameterGroupName") or parameter),
                why="parameter group",
            )
        else:
            with_public(where.rds_arn(region, "pg", p.get("DBParameterGroupName") or parameter), why="parameter group")
    if tags:
        on("rds:AddTagsToResource", new, request_tags=tags, why="tags on create are authorized on the new database")
    key = snapshot_state.get("kms_key_id")
    if key:
        extra.extend(_through_rds(call, where, key, region, "the snapshot's key (RDS creates the database under it)"))
    return extra


def authorizations(call: Call, where: Where) -> list[Authorization]:
    """Every authorization AWS performs for `call`; raises KeyError for a request it does not know."""
    p, region, op = call.params, call.region, call.operation
    auths: list[Authorization] = []
    state = call.resources

    def on(
        action: str,
        arn: str,
        *,
        request_tags: dict[str, str] | None = None,
        why: str = "",
        extra: dict[str, str | list[str]] | None = None,
    ) -> None:
        context = tag_context(arn, state.get(arn, {}).get("tags", {}))
        context.update(request_tag_context(request_tags or {}))
        context.update(extra or {})
        auths.append(Authorization(action, arn, context, call, where.role_arn, why=why))

    name = f"{call.service}:{op}"
    if name in NOT_AUTHORIZED:
        return []
    if call.service == "rds":
        action = f"rds:{op}"
        if op == "DescribeDBInstances":
            for arn in _describe(call, where, "db", "DBInstanceIdentifier"):
                on(action, arn)
        elif op == "DescribeDBClusters":
            for arn in _describe(call, where, "cluster", "DBClusterIdentifier"):
                on(action, arn)
        elif op == "DescribeDBSnapshots":
            for arn in _describe(call, where, "snapshot", "DBSnapshotIdentifier", ("db", "DBInstanceIdentifier")):
                on(action, arn)
        elif op == "DescribeDBClusterSnapshots":
            for arn in _describe(
                call, where, "cluster-snapshot", "DBClusterSnapshotIdentifier", ("cluster", "DBClusterIdentifier")
            ):
                on(action, arn)
        elif op in ("DescribeAccountAttributes", "DescribeOrderableDBInstanceOptions"):
            on(action, "*", why="no resource type (Service Authorization Reference)")
        elif op == "DescribeDBSubnetGroups":  # the restore command's check that the subnet group exists
            name = p.get("DBSubnetGroupName")
            on(action, where.rds_arn(region, "subgrp", name) if name else "*")
        elif op in ("CreateDBSnapshot", "CreateDBClusterSnapshot"):
            cluster = op == "CreateDBClusterSnapshot"
            db = where.rds_arn(
                region, "cluster" if cluster else "db", p["DBClusterIdentifier" if cluster else "DBInstanceIdentifier"]
            )
            snap_kind = "cluster-snapshot" if cluster else "snapshot"
            snap = where.rds_arn(
                region, snap_kind, p["DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier"]
            )
            tags = _tags(p)
            on(action, db, request_tags=tags, why="required resource type: the database")
            on(action, snap, request_tags=tags, why="required resource type: the new snapshot")
            if tags:
                on(
                    "rds:AddTagsToResource",
                    snap,
                    request_tags=tags,
                    why="tags on create are authorized on the new snapshot",
                )
        elif op in ("CopyDBSnapshot", "CopyDBClusterSnapshot"):
            cluster = op == "CopyDBClusterSnapshot"
            kind = "cluster-snapshot" if cluster else "snapshot"
            source = where.rds_arn(
                region, kind, p["SourceDBClusterSnapshotIdentifier" if cluster else "SourceDBSnapshotIdentifier"]
            )
            target = where.rds_arn(
                region, kind, p["TargetDBClusterSnapshotIdentifier" if cluster else "TargetDBSnapshotIdentifier"]
            )
            tags = _tags(p)
            if p.get("CopyTags"):
                tags = {**state.get(source, {}).get("tags", {}), **tags}
            on(action, target, request_tags=_tags(p), why="the new copy")
            on(action, source, why="the source snapshot (a cross-region copy is authorized in the source region too)")
            if tags:
                on(
                    "rds:AddTagsToResource",
                    target,
                    request_tags=tags,
                    why="tags the copy receives are authorized on it",
                )
            if p.get("KmsKeyId"):
                auths.extend(
                    _through_rds(call, where, p["KmsKeyId"], region, "the copy's key in the destination region")
                )
            source_key = state.get(source, {}).get("kms_key_id")
            if source_key:
                auths.extend(
                    _through_rds(
                        call, where, source_key, source.split(":")[3], "the source snapshot's key (RDS reads it)"
                    )
                )
        elif op == "AddTagsToResource":
            on(action, p["ResourceName"], request_tags=_tags(p))
        elif op in ("DeleteDBSnapshot", "DeleteDBClusterSnapshot"):
            cluster = op == "DeleteDBClusterSnapshot"
            on(
                action,
                where.rds_arn(
                    region,
                    "cluster-snapshot" if cluster else "snapshot",
                    p["DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier"],
                ),
            )
        elif op in ("RestoreDBInstanceFromDBSnapshot", "RestoreDBClusterFromSnapshot", "CreateDBInstance"):
            auths.extend(_create_database(call, where, on))
        elif op == "DeleteDBInstance":
            on(action, where.rds_arn(region, "db", p["DBInstanceIdentifier"]))
        elif op == "DeleteDBCluster":
            on(action, where.rds_arn(region, "cluster", p["DBClusterIdentifier"]))
            # cluster-snapshot is a required resource type of DeleteDBCluster: the final snapshot. With
            # SkipFinalSnapshot no snapshot is created, and there is no name to authorize.
            if p.get("FinalDBSnapshotIdentifier"):
                on(action, where.rds_arn(region, "cluster-snapshot", p["FinalDBSnapshotIdentifier"]))
        else:
            raise KeyError(name)
    elif call.service == "kms":
        on(f"kms:{op}", p["KeyId"])
        auths[-1].key_arn = p["KeyId"]
    elif call.service == "iam":
        on(f"iam:{op}", p.get("PolicySourceArn") or f"arn:{where.partition}:iam::{where.account}:role/{p['RoleName']}")
    elif call.service == "scheduler":
        # The copy-waiting switch. Service Authorization Reference, "Actions, resources, and condition keys for
        # Amazon EventBridge Scheduler" (https://docs.aws.amazon.com/service-authorization/latest/reference/
        # list_amazoneventbridgescheduler.html): GetSchedule and UpdateSchedule on the schedule (resource type
        # schedule*); UpdateSchedule has the dependent action iam:PassRole for the role it names.
        group = p.get("GroupName") or "default"
        schedule = f"arn:{where.partition}:scheduler:{region}:{where.account}:schedule/{group}/{p['Name']}"
        if op not in ("GetSchedule", "UpdateSchedule"):
            raise KeyError(name)
        on(f"scheduler:{op}", schedule)
        if op == "UpdateSchedule":
            on(
                "iam:PassRole",
                p["Target"]["RoleArn"],
                why="UpdateSchedule passes the schedule's role to Scheduler again",
                extra={"iam:PassedToService": "scheduler.amazonaws.com"},
            )
    elif call.service == "ssm":
        on(f"ssm:{op}", f"arn:{where.partition}:ssm:{region}:{where.account}:parameter{p['Name']}")
    elif name == "lambda:GetFunctionConfiguration":  # the restore command reads the function's settings
        function = p["FunctionName"]
        if not function.startswith("arn:"):
            function = f"arn:{where.partition}:lambda:{region}:{where.account}:function:{function}"
        on(name, function)
    else:
        raise KeyError(name)
    return auths
