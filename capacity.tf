################################################################################
# Snapshot capacity: what the named databases will hold against the manual snapshot quota
################################################################################

# The same count as the function's capacity.snapshot_capacity, for what is known at plan: the
# databases named by identifier (tag-selected ones only show at run time: the preflight action counts
# them against the account's real quota and usage). Per database and region: the snapshots inside
# the retention window, or keep_last if more, plus one (the expired one awaiting the next prune, or
# the new one being taken); plus the copies in flight (copy_concurrency_limit, at most one per
# database).
locals {
  schedule_rate = regex("^(?:rate\\((?P<n>[0-9]+) (?P<unit>[a-z]+)\\)|cron\\((?P<minutes>[^ ]+) (?P<hours>[^ ]+) (?P<day_of_month>[^ ]+) [^ ]+ (?P<day_of_week>[^ ]+) [^ ]+\\)|at\\(.*\\))$", var.schedule_expression)

  # A cron field of plain values ("0", "0,30") or "*" is counted; anything else (ranges, steps) is
  # left to preflight, which reads every form.
  cron_minutes = local.schedule_rate.minutes == null ? null : (local.schedule_rate.minutes == "*" ? 60 : (can(regex("^[0-9]+(,[0-9]+)*$", local.schedule_rate.minutes)) ? length(split(",", local.schedule_rate.minutes)) : null))
  cron_hours   = local.schedule_rate.hours == null ? null : (local.schedule_rate.hours == "*" ? 24 : (can(regex("^[0-9]+(,[0-9]+)*$", local.schedule_rate.hours)) ? length(split(",", local.schedule_rate.hours)) : null))
  # Days with backups, as schedule.snapshots_per_day counts them: a day-of-week list over a week, else a
  # day-of-month list over a 28-day month (at most every day), else every day.
  cron_days = local.schedule_rate.minutes == null ? null : (
    !contains(["*", "?"], local.schedule_rate.day_of_week) ? (
      can(regex("^[A-Za-z0-9]+(,[A-Za-z0-9]+)*$", local.schedule_rate.day_of_week)) ? length(split(",", local.schedule_rate.day_of_week)) / 7 : 1
      ) : !contains(["*", "?"], local.schedule_rate.day_of_month) ? (
      can(regex("^[0-9]+(,[0-9]+)*$", local.schedule_rate.day_of_month)) ? min(1, length(split(",", local.schedule_rate.day_of_month)) / 28) : 1
    ) : 1
  )

  # Backups per day; null = unknown at plan (the check then stays quiet), -1 = a one-time at() schedule.
  backups_per_day = (
    local.schedule_rate.n != null ? lookup({ minute = 1440, hour = 24, day = 1 }, trimsuffix(local.schedule_rate.unit, "s"), 0) / tonumber(local.schedule_rate.n) :
    local.schedule_rate.minutes != null ? (local.cron_minutes == null || local.cron_hours == null ? null : local.cron_minutes * local.cron_hours * local.cron_days) :
    -1
  )

  # Hours between two backups on average (null: unknown at plan, or a one-time at() schedule).
  backup_interval_hours = local.backups_per_day == null ? null : (local.backups_per_day > 0 ? 24 / local.backups_per_day : null)

  snapshots_per_database = local.backups_per_day == null ? null : {
    for region, days in { source = var.retention.source_days, destination = var.retention.destination_days } :
    region => max(local.backups_per_day < 0 ? 1 : ceil(local.backups_per_day * days - 0.000001), var.retention.keep_last) + 1
  }

  # The Service Quotas entries of manual snapshots, from the file the function reads them from.
  snapshot_quotas = jsondecode(file("${path.module}/lambda_src/rds_snapshot_dr/core/quotas.json"))

  named_databases = {
    instance = length(var.db_instance_identifiers)
    cluster  = length(var.db_cluster_identifiers)
  }

  # Steady-state manual snapshots of the named databases, per region and kind.
  named_snapshot_capacity = local.snapshots_per_database == null ? {} : {
    for pair in setproduct(keys(local.snapshots_per_database), keys(local.named_databases)) :
    "${pair[0]} ${pair[1]}" => {
      region   = pair[0]
      kind     = pair[1]
      total    = local.named_databases[pair[1]] * local.snapshots_per_database[pair[0]] + min(var.copy_concurrency_limit, local.named_databases[pair[1]])
      quota    = var.manual_snapshot_quota[pair[1]]
      code     = local.snapshot_quotas[pair[1]].service_quotas_code
      title    = local.snapshot_quotas[pair[1]].title
      per_each = local.snapshots_per_database[pair[0]]
      # capacity.quota_to_request at the quota alarm's percent (preflight's too): the smallest multiple
      # of 10 that keeps the total below snapshot_quota_alarm_threshold % of the quota.
      request = max(10, ceil((floor((local.named_databases[pair[1]] * local.snapshots_per_database[pair[0]] + min(var.copy_concurrency_limit, local.named_databases[pair[1]])) * 100 / var.snapshot_quota_alarm_threshold) + 1) / 10) * 10)
    }
  }
  snapshot_capacity_over_quota = [for entry in values(local.named_snapshot_capacity) : entry if entry.total > entry.quota]
}

# A warning, not an error: the quota may already have been raised (give manual_snapshot_quota), and
# other snapshots in the account count too, which only the preflight action can see.
check "manual_snapshot_capacity" {
  assert {
    condition = length(local.snapshot_capacity_over_quota) == 0
    error_message = join(" ", concat(
      [for entry in local.snapshot_capacity_over_quota :
        "The ${local.named_databases[entry.kind]} named DB ${entry.kind}(s) will hold up to ${entry.total} manual ${entry.kind} snapshots in the ${entry.region} region (${entry.per_each} per database at this schedule and retention, plus copies in flight), more than manual_snapshot_quota.${entry.kind} = ${entry.quota}."
      ],
      ["RDS then refuses new snapshots and copies with SnapshotQuotaExceeded. Lower retention, or raise the quota (\"${try(local.snapshot_capacity_over_quota[0].title, "")}\", code ${try(local.snapshot_capacity_over_quota[0].code, "")}) in both regions, e.g. aws service-quotas request-service-quota-increase --service-code rds --quota-code ${try(local.snapshot_capacity_over_quota[0].code, "")} --desired-value ${try(local.snapshot_capacity_over_quota[0].request, 0)} --region <region>, then set manual_snapshot_quota to the new value."]
    ))
  }
}
