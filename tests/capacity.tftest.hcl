# Plan-time capacity: the steady-state snapshot count of the named databases against
# manual_snapshot_quota (a warning check), and the rate budget's variable.
#
# These runs are test vectors shared with the function: tests/unit/test_capacity_vectors.py evaluates
# every run that asserts a count of named_snapshot_capacity (per_each, total, request) through
# rules.capacity with the same inputs, so capacity.tf and the function cannot count differently.

mock_provider "aws" {
  source          = "./tests/mocks/source"
  override_during = plan
}

mock_provider "aws" {
  alias           = "destination"
  source          = "./tests/mocks/destination"
  override_during = plan
}

variables {
  name                    = "orders"
  db_instance_identifiers = ["orders-db"]
}

run "the_defaults_count_three_source_and_fifteen_destination_snapshots_per_database" {
  command = plan

  variables {
    db_instance_identifiers = ["a", "b", "c", "d", "e", "f"]
  }

  # daily backups; source 2 days: 2 + 1; destination 14 days: 14 + 1; plus 5 copies in flight
  assert {
    condition     = local.named_snapshot_capacity["source instance"].total == 6 * 3 + 5 && local.named_snapshot_capacity["destination instance"].total == 6 * 15 + 5
    error_message = "At the defaults, 6 instances hold 6 x 3 + 5 snapshots in the source and 6 x 15 + 5 in the destination."
  }

  assert {
    condition     = length(local.snapshot_capacity_over_quota) == 0
    error_message = "95 snapshots fit the default quota of 100."
  }
}

run "seven_named_instances_at_the_defaults_warn_about_the_quota" {
  command = plan

  variables {
    db_instance_identifiers = ["a", "b", "c", "d", "e", "f", "g"]
  }

  expect_failures = [check.manual_snapshot_capacity]
}

run "a_raised_quota_silences_the_warning" {
  command = plan

  variables {
    db_instance_identifiers = ["a", "b", "c", "d", "e", "f", "g"]
    manual_snapshot_quota   = { instance = 200 }
  }

  assert {
    condition     = length(local.snapshot_capacity_over_quota) == 0
    error_message = "7 x 15 + 5 = 110 snapshots fit a quota of 200."
  }
}

run "an_hourly_schedule_counts_every_backup_of_the_window" {
  command = plan

  variables {
    schedule_expression = "rate(1 hour)"
    retention           = { source_days = 1, destination_days = 2 }
  }

  assert {
    condition     = local.named_snapshot_capacity["source instance"].per_each == 25 && local.named_snapshot_capacity["destination instance"].per_each == 49
    error_message = "Hourly backups hold 24 + 1 snapshots a day of source retention and 48 + 1 for two days in the destination."
  }
}

run "a_cron_of_two_hours_counts_two_a_day" {
  command = plan

  variables {
    schedule_expression = "cron(30 2,14 * * ? *)"
  }

  assert {
    condition     = local.named_snapshot_capacity["destination instance"].per_each == 29
    error_message = "Backups at 02:30 and 14:30 hold 2 x 14 + 1 snapshots in the destination."
  }
}

run "weekday_backups_count_five_of_seven_days" {
  command = plan

  variables {
    # the weekend leaves 72 h between Friday's and Monday's backups (plan refuses a threshold below the
    # 33.6 h average)
    rpo_alarm_threshold = 80
    schedule_expression = "cron(0 3 ? * MON,TUE,WED,THU,FRI *)"
    retention           = { destination_days = 7 }
  }

  assert {
    condition     = local.named_snapshot_capacity["destination instance"].per_each == 6
    error_message = "Weekday backups hold 5 + 1 snapshots over 7 days."
  }
}

run "a_day_of_month_cron_counts_its_days_over_a_28_day_month" {
  command = plan

  variables {
    schedule_expression = "cron(0 3 1,15 * ? *)"
    retention           = { destination_days = 28 }
    rpo_alarm_threshold = 400 # up to 17 days between the 15th and the 1st
  }

  # schedule.snapshots_per_day: 2 / 28 a day; over 28 days 2 snapshots, + 1.
  assert {
    condition     = local.named_snapshot_capacity["destination instance"].per_each == 3
    error_message = "Backups on the 1st and 15th hold 2 + 1 snapshots over 28 days, as the function counts them."
  }
}

run "the_quota_to_request_is_the_functions" {
  command = plan

  variables {
    db_instance_identifiers = ["a", "b", "c", "d", "e"]
  }

  # 5 x 15 + 5 = 80 in the destination (tests/unit/test_capacity_vectors.py runs these numbers through the
  # function too): capacity.quota_to_request(80, 80) = floor(100) + 1 -> 110.
  assert {
    condition     = local.named_snapshot_capacity["destination instance"].total == 80 && local.named_snapshot_capacity["destination instance"].request == 110
    error_message = "The plan-time suggestion must be capacity.quota_to_request: 80 snapshots ask for 110."
  }
}

run "the_quota_to_request_keeps_under_the_quota_alarms_threshold" {
  command = plan

  variables {
    db_instance_identifiers        = ["a", "b", "c", "d", "e"]
    snapshot_quota_alarm_threshold = 50
  }

  # 80 in the destination under 50 %: capacity.quota_to_request(80, 50) = floor(160) + 1 -> 170; the
  # Service Quotas code and title come from the function's core/quotas.json.
  assert {
    condition     = local.named_snapshot_capacity["destination instance"].request == 170
    error_message = "The plan-time suggestion must keep the steady state under snapshot_quota_alarm_threshold: 80 snapshots at 50 % ask for 170."
  }

  assert {
    condition     = local.named_snapshot_capacity["destination instance"].code == "L-272F1212" && local.named_snapshot_capacity["destination instance"].title == "Manual DB instance snapshots"
    error_message = "The quota's code and title must be the ones the function suggests."
  }
}

run "keep_last_above_the_window_counts" {
  command = plan

  variables {
    retention = { source_days = 1, keep_last = 4 }
  }

  assert {
    condition     = local.named_snapshot_capacity["source instance"].per_each == 5
    error_message = "keep_last = 4 holds 4 + 1 snapshots however short the retention."
  }
}

run "clusters_are_counted_against_their_own_quota" {
  command = plan

  variables {
    db_instance_identifiers = []
    db_cluster_identifiers  = ["c1", "c2"]
    manual_snapshot_quota   = { cluster = 20 }
  }

  expect_failures = [check.manual_snapshot_capacity]
}

run "a_schedule_the_plan_cannot_count_stays_quiet" {
  command = plan

  variables {
    db_instance_identifiers = ["a", "b", "c", "d", "e", "f", "g", "h"]
    schedule_expression     = "cron(0/15 * * * ? *)"
  }

  assert {
    condition     = length(local.named_snapshot_capacity) == 0
    error_message = "A cron with steps is left to preflight: no plan-time count."
  }
}

# --- the rate budget -------------------------------------------------------------------------------

run "rate_budget_above_the_account_rate_is_refused" {
  command = plan

  variables {
    rds_api_requests_per_second = 13
  }

  expect_failures = [var.rds_api_requests_per_second]
}

run "rate_budget_too_low_for_the_reserve_is_refused" {
  command = plan

  variables {
    rds_api_requests_per_second = 0.1
  }

  expect_failures = [terraform_data.input_checks]
}

run "rate_budget_is_shared_by_the_reserved_invocations" {
  command = plan

  variables {
    rds_api_requests_per_second           = 6
    lambda_reserved_concurrent_executions = 3
  }

  assert {
    condition     = aws_lambda_function.this[0].environment[0].variables["RDS_API_REQUESTS_PER_SECOND"] == "6" && aws_lambda_function.this[0].environment[0].variables["RDS_API_CONCURRENT_INVOCATIONS"] == "3"
    error_message = "The function gets the budget and the number of invocations that share it."
  }
}

run "quota_must_be_a_whole_number" {
  command = plan

  variables {
    manual_snapshot_quota = { instance = 0 }
  }

  expect_failures = [var.manual_snapshot_quota]
}
