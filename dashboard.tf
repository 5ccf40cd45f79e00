################################################################################
# The operators' dashboard (create_dashboard)
################################################################################

locals {
  # Every metric the dashboard shows, by widget line: namespace, name and dimensions (name = value).
  # tests/unit/test_dashboard.py checks each of the function's own (namespace var.metrics_namespace)
  # against what the function really publishes (rds_snapshot_dr.core.metrics.PUBLISHED), and
  # tests/dashboard.tftest.hcl checks that the dashboard's body shows exactly these.
  #
  # None has a dimension per database: CloudWatch bills each metric (name + dimension values) per
  # month, so per-database ages are log records read by the Logs Insights widget below instead.
  dashboard_metrics = {
    recovery_point_age = { namespace = var.metrics_namespace, name = "RecoveryPointAgeSeconds", dimensions = { ModuleInstance = var.name } }
    copies_started     = { namespace = var.metrics_namespace, name = "CopiesStarted", dimensions = { ModuleInstance = var.name } }
    copies_deferred    = { namespace = var.metrics_namespace, name = "CopiesDeferred", dimensions = { ModuleInstance = var.name } }
    copies_failed      = { namespace = var.metrics_namespace, name = "CopiesFailed", dimensions = { ModuleInstance = var.name } }
    snapshots_started  = { namespace = var.metrics_namespace, name = "SnapshotsStarted", dimensions = { ModuleInstance = var.name } }
    snapshots_deleted  = { namespace = var.metrics_namespace, name = "SnapshotsDeleted", dimensions = { ModuleInstance = var.name } }
    target_failures    = { namespace = var.metrics_namespace, name = "TargetFailures", dimensions = { ModuleInstance = var.name } }
    quota_source_instance = {
      namespace  = var.metrics_namespace, name = "ManualSnapshotQuotaUsedPercent",
      dimensions = { Region = local.source_region, SnapshotKind = "instance" }
    }
    quota_source_cluster = {
      namespace  = var.metrics_namespace, name = "ManualSnapshotQuotaUsedPercent",
      dimensions = { Region = local.source_region, SnapshotKind = "cluster" }
    }
    quota_destination_instance = {
      namespace  = var.metrics_namespace, name = "ManualSnapshotQuotaUsedPercent",
      dimensions = { Region = local.destination_region, SnapshotKind = "instance" }
    }
    quota_destination_cluster = {
      namespace  = var.metrics_namespace, name = "ManualSnapshotQuotaUsedPercent",
      dimensions = { Region = local.destination_region, SnapshotKind = "cluster" }
    }
    # The restore drill's (drill.tf): time to restore of the latest drill (the database is in the log line),
    # failed drills, databases without a successful drill for overdue_days.
    drill_restore_seconds = { namespace = var.metrics_namespace, name = "DrillRestoreSeconds", dimensions = { ModuleInstance = var.name } }
    drill_failures        = { namespace = var.metrics_namespace, name = "DrillFailures", dimensions = { ModuleInstance = var.name } }
    drill_overdue         = { namespace = var.metrics_namespace, name = "DrillOverdueDatabases", dimensions = { ModuleInstance = var.name } }
    function_errors       = { namespace = "AWS/Lambda", name = "Errors", dimensions = { FunctionName = local.name } }
    dead_letters          = { namespace = "AWS/SQS", name = "ApproximateNumberOfMessagesVisible", dimensions = { QueueName = "${local.name}-dlq" } }
  }

  # A widget line: [namespace, name, dimension, value, ..., options].
  dashboard_lines = {
    for key, metric in local.dashboard_metrics : key => concat(
      [metric.namespace, metric.name],
      flatten([for dimension in sort(keys(metric.dimensions)) : [dimension, metric.dimensions[dimension]]]),
    )
  }

  # The function prints one {"record": "recovery_point", ...} line per target at each reconcile
  # (rds_snapshot_dr.core.metrics.recovery_point_records): the newest of each, oldest first.
  recovery_point_query = join(" | ", [
    "SOURCE '${local.log_group_name}'",
    "filter record = \"recovery_point\"",
    "fields recovery_point_age_seconds / 3600 as age_hours, ${var.rpo_alarm_threshold} - recovery_point_age_seconds / 3600 as headroom_hours",
    "stats latest(age_hours) as age_h, latest(headroom_hours) as rpo_headroom_h by target, kind",
    "sort age_h desc",
    "limit 1000",
  ])

  hourly = 3600

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "Recovery point age, worst database (hours) against the RPO"
        region = local.source_region
        view   = "timeSeries"
        period = local.rpo_alarm_period_seconds
        stat   = "Maximum"
        metrics = [
          concat(local.dashboard_lines.recovery_point_age, [{ id = "age", visible = false }]),
          [{ expression = "age / 3600", label = "newest DR copy of the worst database, hours", id = "hours" }],
        ]
        annotations = { horizontal = [{ label = "RPO ${var.rpo_alarm_threshold} h (alarm)", value = var.rpo_alarm_threshold, color = "#d62728" }] }
        yAxis       = { left = { min = 0, label = "hours", showUnits = false } }
      }
    },
    {
      type = "log", x = 12, y = 0, width = 12, height = 6
      properties = {
        title  = "Recovery point age per database (hours; negative headroom = past the RPO)"
        region = local.source_region
        view   = "table"
        query  = local.recovery_point_query
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title   = "Cross-region copies per hour: started, deferred, failed"
        region  = local.source_region
        view    = "timeSeries"
        stacked = false
        period  = local.hourly
        stat    = "Sum"
        metrics = [
          local.dashboard_lines.copies_started,
          local.dashboard_lines.copies_deferred,
          local.dashboard_lines.copies_failed,
        ]
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title  = "Manual snapshot quota used (%), by region and kind"
        region = local.source_region
        view   = "timeSeries"
        period = local.rpo_alarm_period_seconds
        stat   = "Maximum"
        metrics = [
          local.dashboard_lines.quota_source_instance,
          local.dashboard_lines.quota_source_cluster,
          local.dashboard_lines.quota_destination_instance,
          local.dashboard_lines.quota_destination_cluster,
        ]
        annotations = { horizontal = [{ label = "alarm ${var.snapshot_quota_alarm_threshold} %", value = var.snapshot_quota_alarm_threshold }] }
        yAxis       = { left = { min = 0, max = 100, showUnits = false } }
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 8, height = 6
      properties = {
        title   = "Target failures and function errors"
        region  = local.source_region
        view    = "timeSeries"
        period  = 300
        stat    = "Sum"
        metrics = [local.dashboard_lines.target_failures, local.dashboard_lines.function_errors]
      }
    },
    {
      type = "metric", x = 8, y = 12, width = 8, height = 6
      properties = {
        title   = "Dead letters (messages waiting)"
        region  = local.source_region
        view    = "timeSeries"
        period  = 300
        stat    = "Maximum"
        metrics = [local.dashboard_lines.dead_letters]
      }
    },
    {
      type = "metric", x = 16, y = 12, width = 8, height = 6
      properties = {
        title   = "Snapshots started and deleted per hour"
        region  = local.source_region
        view    = "timeSeries"
        period  = local.hourly
        stat    = "Sum"
        metrics = [local.dashboard_lines.snapshots_started, local.dashboard_lines.snapshots_deleted]
      }
    },
    {
      type = "metric", x = 0, y = 18, width = 24, height = 6
      properties = {
        title  = "Restore drill: time to restore (minutes, measured RTO), failed drills, overdue databases (empty while restore_drill is off)"
        region = local.source_region
        view   = "timeSeries"
        period = 86400
        stat   = "Maximum"
        metrics = [
          concat(local.dashboard_lines.drill_restore_seconds, [{ id = "rto_seconds", visible = false }]),
          [{ expression = "rto_seconds / 60", label = "Time to restore (minutes)", id = "rto_minutes" }],
          # Failed drills are counted: the day's Sum, not the largest single report (the widget's Maximum).
          concat(local.dashboard_lines.drill_failures, [{ stat = "Sum", label = "Failed drills (per day)" }]),
          local.dashboard_lines.drill_overdue,
        ]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = local.create && var.create_dashboard ? 1 : 0

  dashboard_name = local.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
