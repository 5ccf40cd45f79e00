# create = false removes everything: no resource, no module call, every output null or empty, even with
# every optional feature (drill, existing key, email subscriptions) switched on. tests/unit/test_create_switch.py
# checks that every resource of the root module follows the switch, so a new one cannot slip past.

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
  alarm_email_addresses   = ["dba@example.com"]
  restore_drill           = {}
}

run "create_false_plans_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition = alltrue([
      length(aws_kms_key.alarms) == 0,
      length(aws_kms_alias.alarms) == 0,
      length(aws_sns_topic.alarms) == 0,
      length(aws_sns_topic_policy.alarms) == 0,
      length(aws_sns_topic_subscription.email) == 0,
      length(aws_cloudwatch_metric_alarm.function_errors) == 0,
      length(aws_cloudwatch_metric_alarm.target_failures) == 0,
      length(aws_cloudwatch_metric_alarm.recovery_point_age) == 0,
      length(aws_cloudwatch_metric_alarm.snapshot_quota) == 0,
      length(aws_cloudwatch_metric_alarm.dead_letters) == 0,
      length(aws_cloudwatch_dashboard.this) == 0,
      length(aws_ssm_parameter.drill_state) == 0,
      length(aws_scheduler_schedule.drill) == 0,
      length(aws_iam_role_policy.drill) == 0,
      length(aws_cloudwatch_metric_alarm.drill_failures) == 0,
      length(aws_cloudwatch_metric_alarm.drill_overdue) == 0,
      length(aws_cloudwatch_event_rule.copy_finished_destination) == 0,
      length(aws_iam_role.copy_events) == 0,
      length(aws_iam_role_policy.copy_events) == 0,
      length(aws_cloudwatch_event_target.copy_finished_forward) == 0,
      length(aws_cloudwatch_event_rule.copy_finished) == 0,
      length(aws_cloudwatch_event_target.copy_finished) == 0,
      length(aws_lambda_permission.copy_finished) == 0,
      length(aws_iam_role.lambda) == 0,
      length(aws_iam_role_policy.lambda) == 0,
      length(module.destination_kms_key) == 0,
      length(aws_cloudwatch_log_group.lambda) == 0,
      length(aws_sqs_queue.dead_letter) == 0,
      length(aws_sqs_queue_policy.dead_letter) == 0,
      length(aws_lambda_function.this) == 0,
      length(aws_lambda_function_event_invoke_config.this) == 0,
      length(terraform_data.input_checks) == 0,
      length(aws_scheduler_schedule_group.this) == 0,
      length(aws_iam_role.scheduler) == 0,
      length(aws_iam_role_policy.scheduler) == 0,
      length(aws_scheduler_schedule.backup) == 0,
      length(aws_scheduler_schedule.reconcile) == 0,
      length(aws_scheduler_schedule.copy_waiting) == 0,
      length(aws_cloudwatch_event_rule.snapshot_created) == 0,
      length(aws_cloudwatch_event_target.snapshot_created) == 0,
      length(aws_lambda_permission.snapshot_created) == 0,
    ])
    error_message = "With create = false no resource or module call is planned."
  }

  assert {
    condition     = output.lambda_function_arn == null && output.lambda_role_arn == null && output.dashboard_arn == null && output.sns_topic_arn == null && output.kms_key_arn == null
    error_message = "With create = false the outputs that name created resources are null."
  }
}

run "create_false_with_an_existing_key_and_topic_plans_nothing" {
  command = plan

  variables {
    create           = false
    create_kms_key   = false
    kms_key_arn      = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    create_sns_topic = false
    sns_topic_arn    = "arn:aws:sns:eu-west-1:123456789012:platform-alarms"
  }

  assert {
    condition     = length(aws_lambda_function.this) == 0 && length(aws_sns_topic.alarms) == 0 && output.kms_key_policy_statements == null
    error_message = "With create = false nothing is created, and there is no role to name in a key policy."
  }
}

run "create_true_is_the_default_and_creates_the_function" {
  command = plan

  assert {
    condition     = length(aws_lambda_function.this) == 1 && length(aws_scheduler_schedule.backup) == 1 && length(aws_scheduler_schedule.drill) == 1 && length(aws_sns_topic_subscription.email) == 1
    error_message = "By default the module creates the function, its schedules and the subscriptions."
  }
}
