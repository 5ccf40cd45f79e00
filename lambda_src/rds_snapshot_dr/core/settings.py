"""Settings of the function: one frozen dataclass built from the environment at cold start."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

RESERVED_TAG_PREFIX = "rds-snapshot-dr:"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
RETRY_MODES = ("standard", "adaptive")
MAX_COPY_CONCURRENCY = 20  # AWS: 20 cross-region snapshot copies in progress per destination region
# RDS throttles each account in each region with a token bucket: "up to 300 requests in a burst and a
# sustained 12 requests per second", shared by every caller (RDS User Guide, "Request throttling for the
# Amazon RDS API", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html).
RDS_SUSTAINED_REQUESTS_PER_SECOND = 12.0
RDS_BURST_REQUESTS = 300
# Copies of one snapshot the engine starts before a copy that keeps ending `failed` stays failed (and loud).
MAX_COPY_ATTEMPTS = 10

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/[A-Za-z0-9-]+$")
_PREFIX = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*$")
_SCHEDULE = re.compile(
    r"^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\([^ ()]+( [^ ()]+){5}\)"
    r"|at\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\))$"
)
_TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")  # as variable schedule_timezone
# EventBridge Scheduler schedule ARN (Service Authorization Reference, EventBridge Scheduler, resource type schedule)
_SCHEDULE_ARN = re.compile(
    r"^arn:aws[a-z-]*:scheduler:[a-z0-9-]+:\d{12}:schedule/[0-9a-zA-Z_.-]{1,64}/[0-9a-zA-Z_.-]{1,64}$"
)
_DB_IDENTIFIER = re.compile(r"^[a-zA-Z](?:[a-zA-Z0-9]|-(?!-)){0,62}$")


@dataclass(frozen=True)
class Regional:
    """What only exists per region: names and IDs in the DR region (None = RDS's default)."""

    db_subnet_group_name: str | None = None
    vpc_security_group_ids: tuple[str, ...] = ()
    db_parameter_group_name: str | None = None
    db_cluster_parameter_group_name: str | None = None
    option_group_name: str | None = None


@dataclass(frozen=True)
class DrillSettings:
    """The restore drill (DRILL_SETTINGS); absent when the drill is off."""

    databases: tuple[str, ...]  # empty = every database with a DR copy
    instance_class: str | None  # None = the source's class
    regional: Regional
    max_lifetime_minutes: int
    overdue_days: int
    state_parameter: str  # SSM parameter (source region) holding each database's last drill
    schedule_expression: str | None = None  # the drill's schedule (None = unknown: no coverage check)


# variables.tf's snapshot_quota_alarm_threshold default (core/module_defaults.py holds it as the module sets it)
DEFAULT_QUOTA_ALARM_PERCENT = 80.0


class SettingsError(ValueError):
    """One or more environment variables are missing or malformed; the message names each of them."""


@dataclass(frozen=True)
class Settings:
    source_region: str
    destination_region: str
    destination_kms_key_arn: str
    snapshot_prefix: str
    owner_tag_key: str
    owner_tag_value: str
    db_instance_identifiers: tuple[str, ...]
    db_cluster_identifiers: tuple[str, ...]
    selection_tags: Mapping[str, str]
    snapshot_tags: Mapping[str, str]
    source_retention_days: int
    destination_retention_days: int
    keep_last: int
    copy_concurrency_limit: int
    copy_max_attempts: int
    metrics_namespace: str
    time_budget_reserve_ms: int
    boto_max_attempts: int
    boto_retry_mode: str
    log_level: str
    backup_schedule_expression: str  # the backup schedule, for the steady-state snapshot count
    rds_api_requests_per_second: float  # this module instance's RDS API budget, per region
    rds_api_concurrent_invocations: int  # how many invocations may share that budget at once
    restore: Regional = Regional()
    drill: DrillSettings | None = None
    backup_schedule_timezone: str = "UTC"  # the IANA zone the backup schedule is evaluated in (always set)
    # The copy-waiting schedule the function switches on while copies wait and off when none do ("": there
    # is none, or it always runs)
    copy_waiting_schedule_arn: str = ""
    # Percent of a manual snapshot quota at which the module's quota alarm fires; preflight warns there too.
    # Not set by a function an earlier release deployed: the module's default then.
    snapshot_quota_alarm_percent: float = DEFAULT_QUOTA_ALARM_PERCENT
    # Source option group name -> the option group in the destination region a copy of a snapshot with that
    # group is given (OptionGroupName). Not set by a function an earlier release deployed: none.
    option_group_mapping: Mapping[str, str] = field(default_factory=dict)

    @property
    def rds_api_rate_per_invocation(self) -> float:
        """Requests per second one invocation may send to RDS in one region: its share of the budget."""
        return self.rds_api_requests_per_second / self.rds_api_concurrent_invocations

    @property
    def rds_api_burst(self) -> float:
        """Requests one invocation may send at once before pacing starts: one second's share, at least 1."""
        return max(1.0, self.rds_api_rate_per_invocation)


def _optional_arn(r: _Reader, name: str) -> str:
    """An optional schedule ARN: absent or empty means none."""
    value = (r.environ.get(name) or "").strip()
    if value and not _SCHEDULE_ARN.match(value):
        r.fail(name, f"must be empty or an EventBridge Scheduler schedule ARN (got {value!r})")
        return ""
    return value


class _Reader:
    """Reads variables one by one and collects one error message per bad variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.errors: list[str] = []

    def fail(self, name: str, problem: str) -> None:
        self.errors.append(f"{name}: {problem}")

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None:
            self.fail(name, "is not set (the Terraform module sets every variable of the function)")
        return value

    def text(self, name: str, *, pattern: re.Pattern[str] | None = None, hint: str = "", max_len: int = 0) -> str:
        value = self.raw(name)
        if value is None:
            return ""
        value = value.strip()
        if not value:
            self.fail(name, "must not be empty")
        elif max_len and len(value) > max_len:
            self.fail(name, f"must be at most {max_len} characters (got {len(value)})")
        elif pattern is not None and not pattern.match(value):
            self.fail(name, f"{hint} (got {value!r})")
        return value

    def integer(self, name: str, *, minimum: int, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return minimum
        try:
            number = int(value.strip())
        except ValueError:
            self.fail(name, f"must be a whole number (got {value!r})")
            return minimum
        if number < minimum or (maximum is not None and number > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.fail(name, f"must be {bounds} (got {number})")
        return number

    def number(self, name: str, *, above: float, maximum: float) -> float:
        value = self.raw(name)
        if value is None:
            return maximum
        try:
            number = float(value.strip())
        except ValueError:
            self.fail(name, f"must be a number (got {value!r})")
            return maximum
        if not (above < number <= maximum):
            self.fail(name, f"must be greater than {above:g} and at most {maximum:g} (got {value.strip()})")
            return maximum
        return number

    def choice(self, name: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            return choices[0]
        value = value.strip().upper() if upper else value.strip()
        if value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)} (got {value!r})")
            return choices[0]
        return value

    def identifiers(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        items = [item.strip().lower() for item in value.split(",") if item.strip()]
        bad = [item for item in items if not _DB_IDENTIFIER.match(item) or item.endswith("-")]
        if bad:
            self.fail(
                name,
                "each identifier must start with a letter and contain 1-63 letters, digits or single hyphens, "
                f"not ending in a hyphen (bad: {', '.join(bad)})",
            )
        return tuple(dict.fromkeys(items))

    def tag_map(self, name: str, example: str = '{"team": "payments"}', keys: str = "tag keys") -> dict[str, str]:
        value = self.raw(name)
        if value is None:
            return {}
        try:
            parsed = json.loads(value or "{}")
        except json.JSONDecodeError as exc:
            self.fail(name, f"must be a JSON object of string to string (not valid JSON: {exc.msg})")
            return {}
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
        ):
            self.fail(name, f"must be a JSON object of string to string, e.g. {example}")
            return {}
        if any(not key for key in parsed):
            self.fail(name, f"{keys} must not be empty")
        return parsed


_REGIONAL_KEYS = {
    "db_subnet_group_name",
    "vpc_security_group_ids",
    "db_parameter_group_name",
    "db_cluster_parameter_group_name",
    "option_group_name",
}
_DRILL_KEYS = {
    "databases",
    "instance_class",
    "max_lifetime_minutes",
    "overdue_days",
    "state_parameter",
    "schedule_expression",
}


def _json_object(r: _Reader, name: str, allowed: set[str]) -> dict[str, object] | None:
    """An optional JSON object variable: None when unset or empty."""
    value = (r.environ.get(name) or "").strip()
    if not value or value == "null":
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        r.fail(name, f"must be a JSON object (not valid JSON: {exc.msg})")
        return None
    if not isinstance(parsed, dict):
        r.fail(name, "must be a JSON object")
        return None
    unknown = sorted(set(parsed) - allowed)
    if unknown:
        r.fail(name, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    return parsed


def _regional(r: _Reader, name: str, parsed: Mapping[str, object]) -> Regional:
    def text(key: str) -> str | None:
        value = parsed.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            r.fail(name, f"{key} must be a non-empty string or null")
            return None
        return value.strip() if isinstance(value, str) else None

    groups = parsed.get("vpc_security_group_ids") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.startswith("sg-") for g in groups):
        r.fail(name, "vpc_security_group_ids must be a list of security group IDs (sg-...)")
        groups = []
    return Regional(
        db_subnet_group_name=text("db_subnet_group_name"),
        vpc_security_group_ids=tuple(groups),
        db_parameter_group_name=text("db_parameter_group_name"),
        db_cluster_parameter_group_name=text("db_cluster_parameter_group_name"),
        option_group_name=text("option_group_name"),
    )


def _drill(r: _Reader, restore: Regional) -> DrillSettings | None:
    name = "DRILL_SETTINGS"
    parsed = _json_object(r, name, _DRILL_KEYS | _REGIONAL_KEYS)
    if parsed is None:
        return None
    regional = _regional(r, name, parsed)
    # The drill's own network settings, else the restore's.
    regional = Regional(
        db_subnet_group_name=regional.db_subnet_group_name or restore.db_subnet_group_name,
        vpc_security_group_ids=regional.vpc_security_group_ids or restore.vpc_security_group_ids,
        db_parameter_group_name=regional.db_parameter_group_name or restore.db_parameter_group_name,
        db_cluster_parameter_group_name=regional.db_cluster_parameter_group_name
        or restore.db_cluster_parameter_group_name,
        option_group_name=regional.option_group_name or restore.option_group_name,
    )
    databases = parsed.get("databases") or []
    if not isinstance(databases, list) or not all(isinstance(d, str) and _DB_IDENTIFIER.match(d) for d in databases):
        r.fail(name, "databases must be a list of DB instance / cluster identifiers")
        databases = []
    numbers = {}
    for key, minimum in (("max_lifetime_minutes", 30), ("overdue_days", 1)):
        value = parsed.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            r.fail(name, f"{key} must be a whole number of at least {minimum} (got {value!r})")
            value = minimum
        numbers[key] = value
    state = parsed.get("state_parameter")
    if not isinstance(state, str) or not state.startswith("/"):
        r.fail(name, f"state_parameter must be an SSM parameter name starting with '/' (got {state!r})")
        state = ""
    instance_class = parsed.get("instance_class")
    if instance_class is not None and not (isinstance(instance_class, str) and instance_class.startswith("db.")):
        r.fail(
            name, f"instance_class must be a DB instance class such as db.t4g.medium, or null (got {instance_class!r})"
        )
        instance_class = None
    schedule = parsed.get("schedule_expression")
    if schedule is not None and not isinstance(schedule, str):
        r.fail(name, f"schedule_expression must be a rate() or cron() expression (got {schedule!r})")
        schedule = None
    return DrillSettings(
        databases=tuple(d.lower() for d in databases),
        instance_class=instance_class,
        regional=regional,
        max_lifetime_minutes=numbers["max_lifetime_minutes"],
        overdue_days=numbers["overdue_days"],
        state_parameter=state,
        schedule_expression=schedule,
    )


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build the settings from the environment, or raise SettingsError naming every bad variable."""
    r = _Reader(environ)
    source_region = r.text("SOURCE_REGION", pattern=_REGION, hint="must be an AWS region name such as eu-west-1")
    destination_region = r.text(
        "DESTINATION_REGION", pattern=_REGION, hint="must be an AWS region name such as eu-central-1"
    )
    if source_region and source_region == destination_region:
        r.fail("DESTINATION_REGION", f"must differ from SOURCE_REGION (both are {source_region!r})")

    key_arn = r.text(
        "DESTINATION_KMS_KEY_ARN",
        pattern=_KMS_KEY_ARN,
        hint="must be a KMS key ARN arn:<partition>:kms:<region>:<account>:key/<id>",
    )
    match = _KMS_KEY_ARN.match(key_arn)
    if match and destination_region and match.group("region") != destination_region:
        r.fail(
            "DESTINATION_KMS_KEY_ARN",
            f"must be a key in DESTINATION_REGION {destination_region} (the key is in {match.group('region')})",
        )

    prefix = r.text(
        "SNAPSHOT_PREFIX",
        pattern=_PREFIX,
        hint="must start with a lowercase letter and contain lowercase letters, digits and single hyphens",
        max_len=100,
    )
    if prefix.endswith("-"):
        r.fail("SNAPSHOT_PREFIX", f"must not end with a hyphen (got {prefix!r})")

    owner_key = r.text("OWNER_TAG_KEY", max_len=128)
    owner_value = r.text("OWNER_TAG_VALUE", max_len=256)
    instances = r.identifiers("DB_INSTANCE_IDENTIFIERS")
    clusters = r.identifiers("DB_CLUSTER_IDENTIFIERS")
    selection_tags = r.tag_map("SELECTION_TAGS")
    snapshot_tags = r.tag_map("SNAPSHOT_TAGS")
    clashing = sorted(key for key in snapshot_tags if key == owner_key or key.startswith((RESERVED_TAG_PREFIX, "aws:")))
    if clashing:
        r.fail(
            "SNAPSHOT_TAGS",
            f"must not set the keys the module uses itself ({owner_key!r}, '{RESERVED_TAG_PREFIX}*', 'aws:*'); "
            f"remove {', '.join(clashing)}",
        )

    restore_parsed = _json_object(r, "RESTORE_SETTINGS", _REGIONAL_KEYS)
    restore = _regional(r, "RESTORE_SETTINGS", restore_parsed) if restore_parsed else Regional()
    drill = _drill(r, restore)

    settings = Settings(
        source_region=source_region,
        destination_region=destination_region,
        destination_kms_key_arn=key_arn,
        snapshot_prefix=prefix,
        owner_tag_key=owner_key,
        owner_tag_value=owner_value,
        db_instance_identifiers=instances,
        db_cluster_identifiers=clusters,
        selection_tags=selection_tags,
        snapshot_tags=snapshot_tags,
        source_retention_days=r.integer("SOURCE_RETENTION_DAYS", minimum=1),
        destination_retention_days=r.integer("DESTINATION_RETENTION_DAYS", minimum=1),
        keep_last=r.integer("KEEP_LAST", minimum=1),
        copy_concurrency_limit=r.integer("COPY_CONCURRENCY_LIMIT", minimum=1, maximum=MAX_COPY_CONCURRENCY),
        copy_max_attempts=r.integer("COPY_MAX_ATTEMPTS", minimum=1, maximum=MAX_COPY_ATTEMPTS),
        metrics_namespace=r.text("METRICS_NAMESPACE", max_len=255),
        time_budget_reserve_ms=r.integer("TIME_BUDGET_RESERVE_MS", minimum=0),
        boto_max_attempts=r.integer("BOTO_MAX_ATTEMPTS", minimum=1, maximum=10),
        boto_retry_mode=r.choice("BOTO_RETRY_MODE", RETRY_MODES),
        log_level=r.choice("LOG_LEVEL", LOG_LEVELS, upper=True),
        backup_schedule_expression=r.text(
            "BACKUP_SCHEDULE_EXPRESSION",
            pattern=_SCHEDULE,
            hint="must be an EventBridge Scheduler expression rate(...), cron(...) with six fields, or at(...)",
        ),
        # Above the account's whole burst it could never be a share of it; the module caps it at the
        # sustained rate (variable rds_api_requests_per_second).
        rds_api_requests_per_second=r.number("RDS_API_REQUESTS_PER_SECOND", above=0, maximum=RDS_BURST_REQUESTS),
        rds_api_concurrent_invocations=r.integer("RDS_API_CONCURRENT_INVOCATIONS", minimum=1),
        restore=restore,
        drill=drill,
        backup_schedule_timezone=r.text(
            "BACKUP_SCHEDULE_TIMEZONE", pattern=_TIMEZONE, hint="must be an IANA time zone name such as Europe/Berlin"
        ),
        copy_waiting_schedule_arn=_optional_arn(r, "COPY_WAITING_SCHEDULE_ARN"),
        snapshot_quota_alarm_percent=(
            r.number("SNAPSHOT_QUOTA_ALARM_THRESHOLD", above=0, maximum=100)
            if "SNAPSHOT_QUOTA_ALARM_THRESHOLD" in environ
            else DEFAULT_QUOTA_ALARM_PERCENT
        ),
        option_group_mapping=(
            r.tag_map("OPTION_GROUP_MAPPING", example='{"orders-tde": "orders-tde-dr"}', keys="option group names")
            if "OPTION_GROUP_MAPPING" in environ
            else {}
        ),
    )
    if settings.source_retention_days > settings.destination_retention_days > 0:
        r.fail(
            "SOURCE_RETENTION_DAYS",
            f"must not exceed DESTINATION_RETENTION_DAYS ({settings.source_retention_days} > "
            f"{settings.destination_retention_days}): a source snapshot is deleted only once its copy is available, "
            "and a copy kept for fewer days than its source is gone before the source expires",
        )
    if settings.metrics_namespace.startswith("AWS/"):
        r.fail("METRICS_NAMESPACE", "must not start with 'AWS/' (reserved for AWS services)")
    if (
        "DB_INSTANCE_IDENTIFIERS" in environ
        and "DB_CLUSTER_IDENTIFIERS" in environ
        and "SELECTION_TAGS" in environ
        and not (instances or clusters or selection_tags)
    ):
        r.fail(
            "DB_INSTANCE_IDENTIFIERS",
            "no targets: set at least one of DB_INSTANCE_IDENTIFIERS, DB_CLUSTER_IDENTIFIERS or SELECTION_TAGS",
        )
    if r.errors:
        raise SettingsError("invalid function settings:\n  " + "\n  ".join(r.errors))
    return settings
