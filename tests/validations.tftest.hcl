# Every bad input of the design's "Settings" is refused at plan, with a message a person can act on.
# Each run changes one input of an otherwise valid configuration.

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

run "valid_configuration_plans" {
  command = plan
}

run "tag_selection_alone_is_enough" {
  command = plan

  variables {
    db_instance_identifiers = []
    selection_tags          = { dr-tier = "gold" }
  }
}

# --- Targets -----------------------------------------------------------------------------------

run "no_targets_at_all" {
  command = plan

  variables {
    db_instance_identifiers = []
    db_cluster_identifiers  = []
    selection_tags          = {}
  }

  expect_failures = [terraform_data.input_checks]
}

run "instance_identifier_starting_with_a_digit" {
  command = plan

  variables {
    db_instance_identifiers = ["1orders"]
  }

  expect_failures = [var.db_instance_identifiers]
}

run "instance_identifier_with_double_hyphen" {
  command = plan

  variables {
    db_instance_identifiers = ["orders--db"]
  }

  expect_failures = [var.db_instance_identifiers]
}

run "instance_identifier_with_trailing_hyphen" {
  command = plan

  variables {
    db_instance_identifiers = ["orders-"]
  }

  expect_failures = [var.db_instance_identifiers]
}

run "instance_identifier_longer_than_63" {
  command = plan

  variables {
    db_instance_identifiers = ["a123456789012345678901234567890123456789012345678901234567890123"]
  }

  expect_failures = [var.db_instance_identifiers]
}

run "instance_identifier_with_underscore" {
  command = plan

  variables {
    db_instance_identifiers = ["orders_db"]
  }

  expect_failures = [var.db_instance_identifiers]
}

run "duplicate_instance_identifiers" {
  command = plan

  variables {
    db_instance_identifiers = ["orders-db", "Orders-DB"]
  }

  expect_failures = [var.db_instance_identifiers]
}

run "invalid_cluster_identifier" {
  command = plan

  variables {
    db_cluster_identifiers = ["inventory--aurora"]
  }

  expect_failures = [var.db_cluster_identifiers]
}

run "duplicate_cluster_identifiers" {
  command = plan

  variables {
    db_cluster_identifiers = ["inventory", "inventory"]
  }

  expect_failures = [var.db_cluster_identifiers]
}

run "cluster_snapshot_name_over_63_characters" {
  command = plan

  variables {
    # dr6-orders (prefix, 10) + 1 + 39 + 14 = 64 > 63
    db_cluster_identifiers = ["a${join("", [for i in range(38) : "b"])}"]
  }

  expect_failures = [var.db_cluster_identifiers]
}

run "cluster_snapshot_name_of_exactly_63_characters_is_accepted" {
  command = plan

  variables {
    # dr6-orders (10) + 1 + 38 + 14 = 63
    db_cluster_identifiers = ["a${join("", [for i in range(37) : "b"])}"]
  }
}

run "selection_tag_key_too_long" {
  command = plan

  variables {
    selection_tags = { "${join("", [for i in range(130) : "k"])}" = "v" }
  }

  expect_failures = [var.selection_tags]
}

# --- Names -------------------------------------------------------------------------------------

run "name_with_uppercase" {
  command = plan

  variables {
    name = "Orders"
  }

  expect_failures = [var.name]
}

run "name_longer_than_32" {
  command = plan

  variables {
    name = "a12345678901234567890123456789012"
  }

  expect_failures = [var.name]
}

run "snapshot_prefix_with_invalid_characters" {
  command = plan

  variables {
    snapshot_prefix = "DR_orders"
  }

  expect_failures = [var.snapshot_prefix]
}

# Issue 19, finding 5: "dr6" passed, and its pattern dr6-*-????????-???? covers the generated prefix of
# every instance with a 6-character name ("dr6-orders").
run "snapshot_prefix_that_begins_generated_prefixes" {
  command = plan

  variables {
    snapshot_prefix = "dr6"
  }

  expect_failures = [var.snapshot_prefix]
}

run "snapshot_prefix_ending_with_hyphen" {
  command = plan

  variables {
    snapshot_prefix = "dr-"
  }

  expect_failures = [var.snapshot_prefix]
}

run "snapshot_name_would_pass_255_characters" {
  command = plan

  variables {
    snapshot_prefix = "a${join("", [for i in range(100) : "b"])}"
  }

  expect_failures = [var.snapshot_prefix]
}

run "snapshot_tags_with_reserved_key" {
  command = plan

  variables {
    snapshot_tags = { "rds-snapshot-dr:owner" = "someone-else" }
  }

  expect_failures = [var.snapshot_tags]
}

run "option_group_mapping_of_a_default_group" {
  command = plan

  variables {
    option_group_mapping = { "default:oracle-ee-19" = "orders-tde-dr" }
  }

  expect_failures = [var.option_group_mapping]
}

run "option_group_mapping_to_a_name_rds_refuses" {
  command = plan

  variables {
    option_group_mapping = { "orders-tde" = "orders--tde-dr-" }
  }

  expect_failures = [var.option_group_mapping]
}

run "option_group_mapping_reaches_the_function" {
  command = plan

  variables {
    option_group_mapping = { "orders-tde" = "orders-tde-dr" }
  }

  assert {
    condition     = jsondecode(aws_lambda_function.this[0].environment[0].variables["OPTION_GROUP_MAPPING"]) == { "orders-tde" = "orders-tde-dr" }
    error_message = "The mapping must reach the function as OPTION_GROUP_MAPPING."
  }
}

# --- Retention ---------------------------------------------------------------------------------

run "source_retention_below_one" {
  command = plan

  variables {
    retention = { source_days = 0 }
  }

  expect_failures = [var.retention]
}

run "destination_retention_below_one" {
  command = plan

  variables {
    retention = { destination_days = 0 }
  }

  expect_failures = [var.retention]
}

run "keep_last_below_one" {
  command = plan

  variables {
    retention = { keep_last = 0 }
  }

  expect_failures = [var.retention]
}

run "source_retention_longer_than_destination" {
  command = plan

  variables {
    retention = { source_days = 3, destination_days = 2 }
  }

  expect_failures = [var.retention]
}

run "source_retention_equal_to_destination" {
  command = plan

  variables {
    retention = { source_days = 7, destination_days = 7 }
  }
}

run "fractional_retention" {
  command = plan

  variables {
    retention = { source_days = 1.5 }
  }

  expect_failures = [var.retention]
}

# --- Schedules ---------------------------------------------------------------------------------

run "schedule_expression_without_function" {
  command = plan

  variables {
    schedule_expression = "0 3 * * ? *"
  }

  expect_failures = [var.schedule_expression]
}

run "schedule_expression_cron_with_five_fields" {
  command = plan

  variables {
    schedule_expression = "cron(0 3 * * ?)"
  }

  expect_failures = [var.schedule_expression]
}

run "schedule_expression_rate_with_bad_unit" {
  command = plan

  variables {
    schedule_expression = "rate(1 week)"
  }

  expect_failures = [var.schedule_expression]
}

run "other_schedule_expressions_are_accepted" {
  command = plan

  variables {
    schedule_expression           = "at(2026-12-24T18:00:00)"
    reconcile_schedule_expression = "rate(15 minutes)"
    schedule_timezone             = "America/Argentina/Buenos_Aires"
  }
}

run "schedule_timezone_malformed" {
  command = plan

  variables {
    schedule_timezone = "Europe Berlin"
  }

  expect_failures = [var.schedule_timezone]
}

run "reconcile_expression_at_is_refused" {
  command = plan

  variables {
    reconcile_schedule_expression = "at(2026-12-24T18:00:00)"
  }

  expect_failures = [var.reconcile_schedule_expression]
}

run "reconcile_less_often_than_daily" {
  command = plan

  variables {
    reconcile_schedule_expression = "rate(2 days)"
  }

  expect_failures = [var.reconcile_schedule_expression]
}

run "copy_waiting_expression_at_is_refused" {
  command = plan

  variables {
    copy_waiting_schedule_expression = "at(2026-12-24T18:00:00)"
  }

  expect_failures = [var.copy_waiting_schedule_expression]
}

run "copy_waiting_schedule_can_be_switched_off" {
  command = plan

  variables {
    copy_waiting_schedule_expression = null
  }

  assert {
    condition     = length(aws_scheduler_schedule.copy_waiting) == 0 && output.schedule_arns["copy_waiting"] == null && length(aws_scheduler_schedule.reconcile) == 1
    error_message = "null switches only the copy-waiting schedule off."
  }
}

run "cron_reconcile_needs_an_alarm_period" {
  command = plan

  variables {
    reconcile_schedule_expression = "cron(0 * * * ? *)"
  }

  expect_failures = [terraform_data.input_checks]
}

run "cron_reconcile_with_an_alarm_period" {
  command = plan

  variables {
    reconcile_schedule_expression = "cron(0 */2 * * ? *)"
    rpo_alarm_period_seconds      = 7200
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.recovery_point_age[0].period == 7200
    error_message = "An explicit alarm period is used as given."
  }
}

run "alarm_period_not_a_multiple_of_60" {
  command = plan

  variables {
    rpo_alarm_period_seconds = 90
  }

  expect_failures = [var.rpo_alarm_period_seconds]
}

# --- Regions and keys --------------------------------------------------------------------------

run "source_region_equals_destination_region" {
  command = plan

  override_data {
    target = data.aws_region.destination
    values = { name = "eu-west-1" }
  }

  expect_failures = [data.aws_region.destination]
}

run "destination_provider_in_another_account" {
  command = plan

  override_data {
    target = data.aws_caller_identity.destination
    values = { account_id = "999999999999" }
  }

  expect_failures = [data.aws_caller_identity.destination]
}

run "kms_key_from_the_wrong_region" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  expect_failures = [terraform_data.input_checks[0]]
}

run "kms_key_alias_instead_of_key" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:alias/dr"
  }

  expect_failures = [var.kms_key_arn]
}

run "cross_account_principal_malformed" {
  command = plan

  variables {
    kms_key_cross_account_principals = ["arn:aws:iam::1111:root"]
  }

  expect_failures = [var.kms_key_cross_account_principals]
}

run "cross_account_principals_with_existing_key" {
  command = plan

  variables {
    create_kms_key                   = false
    kms_key_arn                      = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    kms_key_cross_account_principals = ["111122223333"]
  }

  expect_failures = [var.kms_key_cross_account_principals]
}

run "existing_key_requested_without_its_arn" {
  command = plan

  variables {
    create_kms_key = false
  }

  expect_failures = [var.create_kms_key]
}

run "key_arn_given_while_the_module_creates_the_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  expect_failures = [terraform_data.input_checks]
}

run "log_kms_key_malformed" {
  command = plan

  variables {
    log_kms_key_arn = "my-key"
  }

  expect_failures = [var.log_kms_key_arn]
}

# --- Alarms ------------------------------------------------------------------------------------

run "bad_email_address" {
  command = plan

  variables {
    alarm_email_addresses = ["dba@example.com", "not-an-address"]
  }

  expect_failures = [var.alarm_email_addresses]
}

run "sns_topic_arn_malformed" {
  command = plan

  variables {
    create_sns_topic = false
    sns_topic_arn    = "alerts"
  }

  expect_failures = [var.sns_topic_arn]
}

run "existing_topic_requested_without_its_arn" {
  command = plan

  variables {
    create_sns_topic = false
  }

  expect_failures = [var.create_sns_topic]
}

run "topic_arn_given_while_the_module_creates_the_topic" {
  command = plan

  variables {
    sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:platform-alerts"
  }

  expect_failures = [terraform_data.input_checks]
}

run "rpo_threshold_zero" {
  command = plan

  variables {
    rpo_alarm_threshold = 0
  }

  expect_failures = [var.rpo_alarm_threshold]
}

run "quota_threshold_over_100" {
  command = plan

  variables {
    snapshot_quota_alarm_threshold = 120
  }

  expect_failures = [var.snapshot_quota_alarm_threshold]
}

# --- Engine and function -----------------------------------------------------------------------

run "copy_concurrency_over_the_aws_limit" {
  command = plan

  variables {
    copy_concurrency_limit = 21
  }

  expect_failures = [var.copy_concurrency_limit]
}

run "copy_max_attempts_zero" {
  command = plan

  variables {
    copy_max_attempts = 0
  }

  expect_failures = [var.copy_max_attempts]
}

run "copy_max_attempts_fractional" {
  command = plan

  variables {
    copy_max_attempts = 2.5
  }

  expect_failures = [var.copy_max_attempts]
}

run "metrics_namespace_reserved" {
  command = plan

  variables {
    metrics_namespace = "AWS/RDS"
  }

  expect_failures = [var.metrics_namespace]
}

run "rpo_threshold_below_the_backup_interval" {
  command = plan

  variables {
    schedule_expression = "rate(2 days)"
    rpo_alarm_threshold = 30
  }

  expect_failures = [terraform_data.input_checks]
}

run "rpo_threshold_of_weekly_backups_must_cover_the_week" {
  command = plan

  variables {
    schedule_expression = "cron(0 3 ? * SUN *)"
    rpo_alarm_threshold = 170
  }
}

run "time_budget_reserve_longer_than_the_timeout" {
  command = plan

  variables {
    lambda_timeout         = 60
    time_budget_reserve_ms = 60000
  }

  expect_failures = [terraform_data.input_checks]
}

run "boto_attempts_out_of_range" {
  command = plan

  variables {
    aws_api_max_attempts = 11
  }

  expect_failures = [var.aws_api_max_attempts]
}

run "boto_retry_mode_unknown" {
  command = plan

  variables {
    aws_api_retry_mode = "legacy"
  }

  expect_failures = [var.aws_api_retry_mode]
}

run "lambda_timeout_over_15_minutes" {
  command = plan

  variables {
    lambda_timeout = 901
  }

  expect_failures = [var.lambda_timeout]
}

run "lambda_memory_below_128" {
  command = plan

  variables {
    lambda_memory_size = 64
  }

  expect_failures = [var.lambda_memory_size]
}

run "reserved_concurrency_zero" {
  command = plan

  variables {
    lambda_reserved_concurrent_executions = 0
  }

  expect_failures = [var.lambda_reserved_concurrent_executions]
}

run "log_retention_not_offered_by_cloudwatch" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "log_level_unknown" {
  command = plan

  variables {
    log_level = "VERBOSE"
  }

  expect_failures = [var.log_level]
}

run "environment_over_4_kb" {
  command = plan

  variables {
    db_instance_identifiers = [for i in range(80) : format("orders-db-%050d", i)]
    manual_snapshot_quota   = { instance = 2000 } # 80 databases: only the environment's size is at stake here
  }

  expect_failures = [aws_lambda_function.this[0]]
}
