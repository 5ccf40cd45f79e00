#!/usr/bin/env python3
"""Manual snapshot quota to request for N databases: the function's own steady-state count, as a table.

The same count the preflight action checks (capacity.snapshot_capacity): per database and region,
the snapshots inside the retention window (or keep_last, if more) plus one, plus the copies in flight;
and the quota value that keeps that steady state below the quota alarm's 80 %.
No AWS call is made.

    python3 benchmarks/capacity.py                                       # module defaults
    python3 benchmarks/capacity.py --databases 10,100,1000 --destination-days 7
    python3 benchmarks/capacity.py --schedule "rate(6 hours)" --source-days 1 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda_src"))


from rds_snapshot_dr.core.module_defaults import MODULE_DEFAULTS
from rds_snapshot_dr.core.settings import load_settings
from rds_snapshot_dr.rules import capacity, schedule
from rds_snapshot_dr.rules.model import Database, Kind

DEFAULT_QUOTA = 100  # "Manual DB instance snapshots" / "Manual DB cluster snapshots" (RDS User Guide, CHAP_Limits)
ALARM_PERCENT = float(MODULE_DEFAULTS["SNAPSHOT_QUOTA_ALARM_THRESHOLD"])  # snapshot_quota_alarm_threshold


def settings_for(args: argparse.Namespace) -> object:
    """The function's settings for these choices (the other values do not change the count)."""
    return load_settings(
        {
            **MODULE_DEFAULTS,
            "SOURCE_REGION": "eu-west-1",
            "DESTINATION_REGION": "eu-central-1",
            "DESTINATION_KMS_KEY_ARN": "arn:aws:kms:eu-central-1:111122223333:key/capacity",
            "SNAPSHOT_PREFIX": "dr",
            "OWNER_TAG_KEY": "rds-snapshot-dr:owner",
            "OWNER_TAG_VALUE": "capacity",
            "SELECTION_TAGS": '{"backup": "dr"}',
            "SOURCE_RETENTION_DAYS": str(args.source_days),
            "DESTINATION_RETENTION_DAYS": str(args.destination_days),
            "KEEP_LAST": str(args.keep_last),
            "COPY_CONCURRENCY_LIMIT": str(args.copy_concurrency),
            "BACKUP_SCHEDULE_EXPRESSION": args.schedule,
        }
    )


def rows(args: argparse.Namespace) -> list[dict[str, object]]:
    settings = settings_for(args)
    per_day = schedule.snapshots_per_day(args.schedule)
    kind = Kind(args.kind)
    result = []
    for count in args.databases:
        targets = [Database(kind, f"db-{i}", "available") for i in range(count)]
        need = {c.role: c for c in capacity.snapshot_capacity(settings, targets, per_day) if c.kind is kind}
        source, destination = need["source"].total, need["destination"].total
        result.append(
            {
                "databases": count,
                "kind": str(kind),
                "quota_name": need["destination"].quota_title,
                "quota_code": need["destination"].quota_code,
                "source_snapshots": source,
                "destination_snapshots": destination,
                "source_quota_to_request": capacity.quota_to_request(source, ALARM_PERCENT),
                "destination_quota_to_request": capacity.quota_to_request(destination, ALARM_PERCENT),
                "fits_default_quota": max(source, destination) <= DEFAULT_QUOTA,
            }
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="1,5,10,50,100,500,1000", help="comma-separated fleet sizes")
    parser.add_argument("--kind", choices=[str(k) for k in Kind], default="instance")
    parser.add_argument("--schedule", default=MODULE_DEFAULTS["BACKUP_SCHEDULE_EXPRESSION"], help="schedule_expression")
    parser.add_argument(
        "--source-days", type=int, default=int(MODULE_DEFAULTS["SOURCE_RETENTION_DAYS"]), help="retention.source_days"
    )
    parser.add_argument(
        "--destination-days",
        type=int,
        default=int(MODULE_DEFAULTS["DESTINATION_RETENTION_DAYS"]),
        help="retention.destination_days",
    )
    parser.add_argument("--keep-last", type=int, default=int(MODULE_DEFAULTS["KEEP_LAST"]), help="retention.keep_last")
    parser.add_argument(
        "--copy-concurrency",
        type=int,
        default=int(MODULE_DEFAULTS["COPY_CONCURRENCY_LIMIT"]),
        help="copy_concurrency_limit",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per fleet size")
    args = parser.parse_args(argv)
    args.databases = [int(n) for n in args.databases.split(",") if n.strip()]

    table = rows(args)
    if args.json:
        for row in table:
            print(json.dumps(row))
        return 0
    first = table[0]
    print(
        f'{first["kind"]} snapshots ("{first["quota_name"]}", {first["quota_code"]}), {args.schedule}, '
        f"source {args.source_days} d, destination {args.destination_days} d, keep_last {args.keep_last}, "
        f"{args.copy_concurrency} copies in flight; quota to request keeps the steady state under {ALARM_PERCENT:g} %"
    )
    print()
    columns = ["databases", "source: snapshots", "source: quota to request", "destination: snapshots"]
    print("| " + " | ".join([*columns, "destination: quota to request"]) + " |")
    print("|---:|---:|---:|---:|---:|")
    for row in table:
        print(
            f"| {row['databases']} | {row['source_snapshots']} | {row['source_quota_to_request']} "
            f"| {row['destination_snapshots']} | {row['destination_quota_to_request']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
