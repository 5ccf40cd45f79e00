"""The only module that calls AWS. Turns API responses into the decision dataclasses and
botocore errors into AwsError, so nothing else imports boto3 or botocore."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from rds_snapshot_dr import clock
from rds_snapshot_dr.rules import capacity
from rds_snapshot_dr.rules.errors import AwsError
from rds_snapshot_dr.rules.model import Database, Kind, Snapshot
from rds_snapshot_dr.rules.recovery_point import KeyState


class RateBudget:
    """A token bucket on the function's side of one region's RDS API: `rate` requests per second, at most
    `burst` at once. Every attempt botocore sends takes one token, retries included, so a throttled
    call that botocore retries still stays within the budget.

    Time comes only from the package clock (`clock.CLOCK.monotonic()` and `.pause()`), so a simulation
    runs the same pacing on simulated time. One attempt pauses at most 1/rate seconds; a call with all
    its retries at most `max_attempts`/rate, which the time budget reserve has to cover (the module
    checks it at plan). The engine's out-of-time check still decides what is started at all.
    """

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a rate budget needs rate > 0 and burst >= 1 (got {rate}, {burst})")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated: float | None = None
        self.requests = 0  # attempts sent through this bucket
        self.paused_seconds = 0.0  # time spent pacing

    def _refill(self) -> float:
        now = clock.CLOCK.monotonic()
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        return now

    def acquire(self) -> None:
        """Take one token, pausing until there is one."""
        self._refill()
        while self.tokens < 1 - 1e-9:  # (a pause's rounding must not leave a sliver to wait for)
            shortfall = (1 - self.tokens) / self.rate  # seconds until the next token
            clock.CLOCK.pause(shortfall)
            self.paused_seconds += shortfall
            self._refill()
        self.tokens -= 1
        self.requests += 1

    def before_send(self, **_: Any) -> None:
        """botocore's `before-send` hook: runs once per attempt; returning None lets the request go."""
        self.acquire()


class ClientFactory:
    """Builds boto3 clients lazily and caches them per container (one per service and region).

    Lazy, so moto's mock_aws and AWS_ENDPOINT_URL both apply; cached, so a warm container reuses them.
    """

    def __init__(self) -> None:
        self._session: boto3.session.Session | None = None
        self._rds_budgets: dict[str, RateBudget] = {}

    @property
    def session(self) -> boto3.session.Session:
        if self._session is None:
            self._session = boto3.session.Session()
        return self._session

    @functools.cache  # noqa: B019 - one factory per process; the cache is the point
    def client(self, service: str, region: str, retry_mode: str, max_attempts: int) -> Any:
        # Bounded per attempt (botocore's default read timeout is 60 s), so one hung call cannot eat the
        # time budget reserve; RDS control-plane calls answer in well under a second.
        config = Config(
            # total_max_attempts counts the first call too; botocore's max_attempts would count only retries.
            retries={"mode": retry_mode, "total_max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=15,
            user_agent_extra="rds-snapshot-dr",
        )
        client = self.session.client(service, region_name=region, config=config)
        if service == "rds":
            # First in line, so it runs before any other before-send handler that answers the request
            # itself (botocore's stubs, moto), and once per attempt: retries are paced and counted too.
            client.meta.events.register_first("before-send.rds", functools.partial(self._pace_rds, region))
        return client

    def _pace_rds(self, region: str, **kwargs: Any) -> None:
        budget = self._rds_budgets.get(region)
        if budget is not None:
            budget.before_send(**kwargs)

    def rds_budget(self, region: str, rate: float, burst: float) -> RateBudget:
        """The RDS rate budget of `region` for every RDS client of this factory; kept across warm
        invocations (a fresh bucket per invocation would allow a full burst each time)."""
        budget = self._rds_budgets.get(region)
        if budget is None or (budget.rate, budget.burst) != (rate, burst):
            budget = self._rds_budgets[region] = RateBudget(rate, burst)
        return budget

    def rds_budgets(self) -> dict[str, RateBudget]:
        """The budgets in use, by region: what was sent and how long pacing paused."""
        return dict(self._rds_budgets)

    def clear(self) -> None:
        """Forget the clients and rate budgets (the session, with its loaded service models, is kept)."""
        self.client.cache_clear()
        self._rds_budgets.clear()


CLIENTS = ClientFactory()
# Identifiers looked up per DescribeDB*Snapshots call: one page (MaxRecords is at most 100, RDS API Reference).
LOOKUP_BATCH = 100

_KIND_API = {
    Kind.INSTANCE: {
        "describe": "describe_db_snapshots",
        "list_key": "DBSnapshots",
        "id_param": "DBSnapshotIdentifier",
        "create": "create_db_snapshot",
        "copy": "copy_db_snapshot",
        "delete": "delete_db_snapshot",
        "result": "DBSnapshot",
        "action": "DBSnapshot",
    },
    Kind.CLUSTER: {
        "describe": "describe_db_cluster_snapshots",
        "list_key": "DBClusterSnapshots",
        "id_param": "DBClusterSnapshotIdentifier",
        "create": "create_db_cluster_snapshot",
        "copy": "copy_db_cluster_snapshot",
        "delete": "delete_db_cluster_snapshot",
        "result": "DBClusterSnapshot",
        "action": "DBClusterSnapshot",
    },
}


def _time(value: Any) -> datetime | None:
    """A response time as an aware UTC datetime; None when absent (RDS omits SnapshotCreateTime while
    it creates the snapshot) or unreadable. Never a naive time: every comparison in the package is aware."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def tags_of(tag_list: Any) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in tag_list or []}


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def database_from_instance(item: Mapping[str, Any]) -> Database:
    return Database(
        kind=Kind.INSTANCE,
        identifier=item["DBInstanceIdentifier"],
        status=item.get("DBInstanceStatus", ""),
        tags=tags_of(item.get("TagList")),
        created=_time(item.get("InstanceCreateTime")),
        cluster_identifier=item.get("DBClusterIdentifier") or None,
        instance_class=item.get("DBInstanceClass"),
        multi_az=item.get("MultiAZ"),
        deletion_protection=item.get("DeletionProtection"),
        resource_id=item.get("DbiResourceId") or None,
        engine=item.get("Engine") or None,
        option_group=next((m.get("OptionGroupName") for m in item.get("OptionGroupMemberships") or []), None),
    )


def database_from_cluster(item: Mapping[str, Any]) -> Database:
    return Database(
        kind=Kind.CLUSTER,
        identifier=item["DBClusterIdentifier"],
        status=item.get("Status", ""),
        tags=tags_of(item.get("TagList")),
        created=_time(item.get("ClusterCreateTime")),
        deletion_protection=item.get("DeletionProtection"),
        resource_id=item.get("DbClusterResourceId") or None,
        engine=item.get("Engine") or None,
    )


def snapshot_from_response(kind: Kind, item: Mapping[str, Any], region: str) -> Snapshot:
    if kind is Kind.INSTANCE:
        return Snapshot(
            kind=kind,
            identifier=item["DBSnapshotIdentifier"],
            arn=item.get("DBSnapshotArn", ""),
            region=region,
            status=item.get("Status", ""),
            snapshot_type=item.get("SnapshotType", ""),
            created=_time(item.get("SnapshotCreateTime")),
            tags=tags_of(item.get("TagList")),
            database_identifier=item.get("DBInstanceIdentifier", ""),
            original_created=_time(item.get("OriginalSnapshotCreateTime")),
            copied_from=item.get("SourceDBSnapshotIdentifier") or item.get("SourceRegion") or None,
            percent_progress=item.get("PercentProgress"),
            encrypted=item.get("Encrypted"),
            resource_id=item.get("DbiResourceId") or None,
            kms_key_id=item.get("KmsKeyId") or None,
            option_group=item.get("OptionGroupName") or None,
        )
    return Snapshot(
        kind=kind,
        identifier=item["DBClusterSnapshotIdentifier"],
        arn=item.get("DBClusterSnapshotArn", ""),
        region=region,
        status=item.get("Status", ""),
        snapshot_type=item.get("SnapshotType", ""),
        created=_time(item.get("SnapshotCreateTime")),
        tags=tags_of(item.get("TagList")),
        database_identifier=item.get("DBClusterIdentifier", ""),
        copied_from=item.get("SourceDBClusterSnapshotArn") or None,
        percent_progress=item.get("PercentProgress"),
        encrypted=item.get("StorageEncrypted"),
        resource_id=item.get("DbClusterResourceId") or None,
        kms_key_id=item.get("KmsKeyId") or None,
    )


@contextmanager
def aws_call(action: str, region: str) -> Iterator[None]:
    """Every AWS call of the package runs inside this: botocore's errors (after its retries) become `AwsError`,
    named by the IAM action and region, so nothing above the gateway ever sees botocore."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(error.get("Code", "Unknown"), error.get("Message", str(exc)), action, region) from exc
    except BotoCoreError as exc:
        raise AwsError(type(exc).__name__, str(exc), action, region) from exc


class RdsGateway:
    """RDS in the source region and the destination region, with the calls the engine needs."""

    def __init__(self, source: Any, destination: Any, source_region: str, destination_region: str) -> None:
        self._clients = {source_region: source, destination_region: destination}
        self.source_region = source_region
        self.destination_region = destination_region

    @classmethod
    def from_settings(cls, settings: Any, factory: ClientFactory = CLIENTS) -> RdsGateway:
        def make(region: str) -> Any:
            # RDS throttles per account and region, so each region has its own budget.
            factory.rds_budget(region, settings.rds_api_rate_per_invocation, settings.rds_api_burst)
            return factory.client("rds", region, settings.boto_retry_mode, settings.boto_max_attempts)

        return cls(
            make(settings.source_region),
            make(settings.destination_region),
            settings.source_region,
            settings.destination_region,
        )

    def client(self, region: str) -> Any:
        """The RDS client of one of the two regions (paced by the region's RDS budget)."""
        return self._clients[region]

    def paginate(self, region: str, method: str, key: str, action: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of every page of one RDS describe call."""
        client = self._clients[region]
        items: list[dict[str, Any]] = []
        with aws_call(action, region):
            for page in client.get_paginator(method).paginate(**params):
                items.extend(page.get(key, []))
        return items

    # --- databases (source region) ---

    def list_instances(self) -> list[Database]:
        items = self.paginate(self.source_region, "describe_db_instances", "DBInstances", "rds:DescribeDBInstances")
        return [database_from_instance(item) for item in items]

    def list_clusters(self) -> list[Database]:
        items = self.paginate(self.source_region, "describe_db_clusters", "DBClusters", "rds:DescribeDBClusters")
        return [database_from_cluster(item) for item in items]

    # --- snapshots ---

    def list_manual_snapshots(self, region: str, kind: Kind) -> list[Snapshot]:
        api = _KIND_API[kind]
        items = self.paginate(
            region, api["describe"], api["list_key"], f"rds:Describe{api['action']}s", SnapshotType="manual"
        )
        # An item without an identifier cannot be acted on (nor be ours): one odd item never stops a run.
        return [snapshot_from_response(kind, item, region) for item in items if item.get(api["id_param"])]

    def find_snapshot(self, region: str, kind: Kind, identifier: str) -> Snapshot | None:
        api = _KIND_API[kind]
        try:
            with aws_call(f"rds:Describe{api['action']}s", region):
                response = getattr(self._clients[region], api["describe"])(**{api["id_param"]: identifier})
        except AwsError as error:
            if error.code in {"DBSnapshotNotFound", "DBClusterSnapshotNotFoundFault"}:
                return None
            raise
        items = response.get(api["list_key"], [])
        return snapshot_from_response(kind, items[0], region) if items else None

    def find_snapshots(self, region: str, kind: Kind, identifiers: list[str]) -> list[Snapshot]:
        """The snapshots of `kind` in `region` with these identifiers (those that exist), in one call per 100."""
        api = _KIND_API[kind]
        name = "db-snapshot-id" if kind is Kind.INSTANCE else "db-cluster-snapshot-id"
        found: list[Snapshot] = []
        for start in range(0, len(identifiers), LOOKUP_BATCH):
            batch = identifiers[start : start + LOOKUP_BATCH]
            items = self.paginate(
                region,
                api["describe"],
                api["list_key"],
                f"rds:Describe{api['action']}s",
                Filters=[{"Name": name, "Values": batch}],
            )
            found.extend(snapshot_from_response(kind, item, region) for item in items if item.get(api["id_param"]))
        return found

    def create_snapshot(self, db: Database, identifier: str, tags: Mapping[str, str]) -> Snapshot:
        api = _KIND_API[db.kind]
        db_param = "DBInstanceIdentifier" if db.kind is Kind.INSTANCE else "DBClusterIdentifier"
        region = self.source_region
        with aws_call(f"rds:Create{api['action']}", region):
            response = getattr(self._clients[region], api["create"])(
                **{db_param: db.identifier, api["id_param"]: identifier, "Tags": _tag_list(tags)}
            )
        return snapshot_from_response(db.kind, response[api["result"]], region)

    def copy_snapshot(self, source: Snapshot, kms_key_arn: str, option_group: str | None = None) -> Snapshot:
        """Start the cross-region copy in the destination region, from the source's full ARN; `option_group`:
        the destination region's option group for a DB snapshot with a non-default one (OptionGroupName)."""
        region = self.destination_region
        params: dict[str, Any]
        if source.kind is Kind.INSTANCE:
            params = {
                "SourceDBSnapshotIdentifier": source.arn,
                "TargetDBSnapshotIdentifier": source.identifier,
            }
        else:
            params = {
                "SourceDBClusterSnapshotIdentifier": source.arn,
                "TargetDBClusterSnapshotIdentifier": source.identifier,
            }
        params.update({"CopyTags": True, "SourceRegion": self.source_region})
        if source.copy_takes_key:
            params["KmsKeyId"] = kms_key_arn
        if option_group:
            params["OptionGroupName"] = option_group
        api = _KIND_API[source.kind]
        with aws_call(f"rds:Copy{api['action']}", region):
            response = getattr(self._clients[region], api["copy"])(**params)
        return snapshot_from_response(source.kind, response[api["result"]], region)

    def tag_snapshot(self, snapshot: Snapshot, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags on one snapshot (by its ARN, in its own region)."""
        with aws_call("rds:AddTagsToResource", snapshot.region):
            self._clients[snapshot.region].add_tags_to_resource(ResourceName=snapshot.arn, Tags=_tag_list(tags))

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        api = _KIND_API[snapshot.kind]
        with aws_call(f"rds:Delete{api['action']}", snapshot.region):
            getattr(self._clients[snapshot.region], api["delete"])(**{api["id_param"]: snapshot.identifier})

    # --- quotas ---

    def manual_snapshot_quotas(self, region: str) -> list[tuple[str, int, int]]:
        """(name, used, max) of ManualSnapshots and ManualClusterSnapshots in `region`."""
        with aws_call("rds:DescribeAccountAttributes", region):
            response = self._clients[region].describe_account_attributes()
        wanted = set(capacity.QUOTA_KIND)
        return [
            (quota["AccountQuotaName"], int(quota.get("Used", 0)), int(quota.get("Max", 0)))
            for quota in response.get("AccountQuotas", [])
            if quota.get("AccountQuotaName") in wanted
        ]


# --- preflight and the command line: identity, KMS key, permissions, function settings -------------


# What UpdateSchedule takes back from GetSchedule: it sets every field a request leaves out to its default
# ("EventBridge Scheduler uses all values, including empty values, specified in the request and overrides the
# existing schedule", https://docs.aws.amazon.com/scheduler/latest/APIReference/API_UpdateSchedule.html).
_SCHEDULE_FIELDS = (
    "ActionAfterCompletion",
    "Description",
    "EndDate",
    "FlexibleTimeWindow",
    "KmsKeyArn",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "Target",
)


class ScheduleGateway:
    """Switches one EventBridge Scheduler schedule on or off (the copy-waiting schedule): GetSchedule, then,
    only if its state differs, UpdateSchedule with everything GetSchedule returned and the new state."""

    def __init__(self, client: Any, arn: str) -> None:
        self._client = client
        self.arn = arn
        self.region = arn.split(":")[3]
        self.group, self.name = arn.split(":schedule/", 1)[1].split("/", 1)

    @classmethod
    def from_settings(cls, settings: Any, factory: ClientFactory = CLIENTS) -> ScheduleGateway | None:
        """The copy-waiting schedule's switch, or None when there is nothing to switch."""
        arn = settings.copy_waiting_schedule_arn
        if not arn:
            return None
        region = arn.split(":")[3]
        return cls(factory.client("scheduler", region, settings.boto_retry_mode, settings.boto_max_attempts), arn)

    def set_enabled(self, enabled: bool) -> bool:
        """Put the schedule in that state; True if it was in the other one."""
        state = "ENABLED" if enabled else "DISABLED"
        with aws_call("scheduler:GetSchedule", self.region):
            current = self._client.get_schedule(Name=self.name, GroupName=self.group)
        if current.get("State") == state:
            return False
        kept = {key: current[key] for key in _SCHEDULE_FIELDS if current.get(key) is not None}
        start = kept.get("StartDate")
        if isinstance(start, datetime) and start < clock.CLOCK.now():
            del kept["StartDate"]  # a start in the past changes nothing, and Scheduler may refuse one
        with aws_call("scheduler:UpdateSchedule", self.region):
            self._client.update_schedule(Name=self.name, GroupName=self.group, State=state, **kept)
        return True


class KeyGateway:
    """The destination KMS key's state, read each reconcile: a copy under a key KMS will not use cannot be
    restored, and is no recovery point (`recovery_point.KeyState`). Reads through `AccountGateway.describe_key`."""

    def __init__(self, account: AccountGateway, arn: str, region: str) -> None:
        self._account = account
        self.arn = arn
        self.region = region

    @classmethod
    def from_settings(cls, settings: Any, factory: ClientFactory = CLIENTS) -> KeyGateway:
        account = AccountGateway.from_settings(settings, factory)
        return cls(account, settings.destination_kms_key_arn, settings.destination_region)

    def state(self) -> KeyState:
        """DescribeKey, which answers in every key state (KMS Developer Guide, "Key states of AWS KMS keys",
        https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html); a key that no longer exists
        (NotFoundException) has the state "" ."""
        try:
            meta = self._account.describe_key(self.arn, self.region)
        except AwsError as error:
            if error.code == "NotFoundException":
                return KeyState(self.arn, "", None)
            raise
        return KeyState(self.arn, meta.get("KeyState", ""), meta.get("DeletionDate"))


class AccountGateway:
    """STS, IAM, KMS and Lambda calls of the preflight checklist and the command line."""

    def __init__(self, factory: ClientFactory, retry_mode: str = "standard", max_attempts: int = 3) -> None:
        self._factory = factory
        self._retry = (retry_mode, max_attempts)

    @classmethod
    def from_settings(cls, settings: Any, factory: ClientFactory = CLIENTS) -> AccountGateway:
        return cls(factory, settings.boto_retry_mode, settings.boto_max_attempts)

    def _client(self, service: str, region: str) -> Any:
        return self._factory.client(service, region, *self._retry)

    def known_regions(self, service: str = "rds") -> set[str]:
        """Regions botocore knows for `service`, in every partition (no AWS call: botocore's endpoint data)."""
        session = self._factory.session
        return {
            region
            for partition in session.get_available_partitions()
            for region in session.get_available_regions(service, partition_name=partition)
        }

    def caller_arn(self, region: str) -> str:
        with aws_call("sts:GetCallerIdentity", region):
            return str(self._client("sts", region).get_caller_identity()["Arn"])

    def describe_key(self, key_arn: str, region: str) -> dict[str, Any]:
        with aws_call("kms:DescribeKey", region):
            metadata: dict[str, Any] = self._client("kms", region).describe_key(KeyId=key_arn)["KeyMetadata"]
            return metadata

    def key_policy(self, key_arn: str, region: str) -> str:
        with aws_call("kms:GetKeyPolicy", region):
            return str(self._client("kms", region).get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])

    def grants(self, key_arn: str, region: str) -> list[dict[str, Any]]:
        client = self._client("kms", region)
        items: list[dict[str, Any]] = []
        with aws_call("kms:ListGrants", region):
            for page in client.get_paginator("list_grants").paginate(KeyId=key_arn):
                items.extend(page.get("Grants", []))
        return items

    def role_arn(self, role_name: str, region: str) -> str:
        """The role's full ARN, with its IAM path (an assumed-role ARN carries only the name)."""
        with aws_call("iam:GetRole", region):
            return str(self._client("iam", region).get_role(RoleName=role_name)["Role"]["Arn"])

    def simulate(
        self,
        role_arn: str,
        action: str,
        resources: list[str],
        context: Sequence[tuple[str, str | Sequence[str], str]],
        region: str,
    ) -> list[str]:
        """iam:SimulatePrincipalPolicy of one action on its resources: the decision per resource.

        `context` holds (key, value, type) entries, e.g. ("kms:ViaService", "rds.eu-west-1.amazonaws.com", "string")
        or ("aws:TagKeys", ["a", "b"], "stringList").
        """
        entries = [
            {
                "ContextKeyName": key,
                "ContextKeyValues": [value] if isinstance(value, str) else list(value),
                "ContextKeyType": kind,
            }
            for key, value, kind in context
        ]
        decisions: list[str] = []
        client = self._client("iam", region)
        with aws_call("iam:SimulatePrincipalPolicy", region):
            for page in client.get_paginator("simulate_principal_policy").paginate(
                PolicySourceArn=role_arn, ActionNames=[action], ResourceArns=resources, ContextEntries=entries
            ):
                for result in page.get("EvaluationResults", []):
                    specific = result.get("ResourceSpecificResults") or []
                    decisions.extend(r["EvalResourceDecision"] for r in specific)
                    if not specific:
                        decisions.append(result["EvalDecision"])
        return decisions

    def probe(self, service: str, region: str, method: str, action: str, **params: Any) -> None:
        """The cheapest read call that proves one permission (raises AwsError when it is denied)."""
        with aws_call(action, region):
            getattr(self._client(service, region), method)(**params)

    def default_region(self) -> str | None:
        """The region the AWS SDK would use without one given (AWS_REGION, AWS_DEFAULT_REGION, the profile)."""
        region: str | None = self._factory.session.region_name
        return region

    def function_configuration(self, function_name: str, region: str | None) -> dict[str, Any]:
        """The deployed function's configuration (its environment and role), with the caller's credentials."""
        region = region or self._factory.session.region_name or ""
        with aws_call("lambda:GetFunctionConfiguration", region):
            configuration: dict[str, Any] = self._client("lambda", region).get_function_configuration(
                FunctionName=function_name
            )
            return configuration
