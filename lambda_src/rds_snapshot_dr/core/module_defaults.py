"""What the Terraform module sets in the function's environment when every input keeps its default.

The module writes these from variables.tf's defaults through main.tf (`lambda_settings_known_at_plan`);
the command line, `benchmarks/capacity.py` and the fleet simulation start from them instead of writing
their own copies. `tests/unit/test_module_defaults.py` evaluates main.tf's expressions over
variables.tf's defaults and fails when this table and the module drift apart. The settings that depend
on the module instance (regions, key, prefix, owner tag, the copy-waiting schedule's ARN) are not here.
"""

from __future__ import annotations

MODULE_DEFAULTS: dict[str, str] = {
    "DB_INSTANCE_IDENTIFIERS": "",
    "DB_CLUSTER_IDENTIFIERS": "",
    "SELECTION_TAGS": "{}",
    "SNAPSHOT_TAGS": "{}",
    "OPTION_GROUP_MAPPING": "{}",
    "SOURCE_RETENTION_DAYS": "2",
    "DESTINATION_RETENTION_DAYS": "14",
    "KEEP_LAST": "1",
    "COPY_CONCURRENCY_LIMIT": "5",
    "COPY_MAX_ATTEMPTS": "3",
    "SNAPSHOT_QUOTA_ALARM_THRESHOLD": "80",
    "METRICS_NAMESPACE": "RdsSnapshotDr",
    "TIME_BUDGET_RESERVE_MS": "30000",
    "BOTO_MAX_ATTEMPTS": "5",
    "BOTO_RETRY_MODE": "standard",
    "LOG_LEVEL": "INFO",
    "BACKUP_SCHEDULE_EXPRESSION": "cron(0 3 * * ? *)",
    "BACKUP_SCHEDULE_TIMEZONE": "UTC",
    "RDS_API_REQUESTS_PER_SECOND": "4",
    "RDS_API_CONCURRENT_INVOCATIONS": "2",
}
