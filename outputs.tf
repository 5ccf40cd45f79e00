output "lambda_function_name" {
  description = "Name of the function; `aws lambda invoke --function-name` takes it."
  value       = one(aws_lambda_function.this[*].function_name)
}

output "lambda_function_arn" {
  description = "ARN of the function."
  value       = one(aws_lambda_function.this[*].arn)
}

output "lambda_role_arn" {
  description = "ARN of the function's IAM role (created, or the `role_arn` passed in with `create_role = false`), for key policies or permission boundaries elsewhere. null when `create` = false."
  value       = local.create ? local.role_arn : null
}

output "function_policy_json" {
  description = "IAM policy document (JSON) with everything the function's role must allow for this instance: the statements of the role's inline policy and, with `restore_drill`, of its drill policy, in one document (statement ids as in the README's IAM section). With `create_role = false`, attach it to your role (docs/bring-your-own-role.md); with `create_role = true` the module's role has exactly these statements. null when `create` = false."
  value       = one(data.aws_iam_policy_document.function[*].json)
}

output "function_trust_policy_json" {
  description = "Trust policy (JSON) the function's role needs: lambda.amazonaws.com may assume it. The module's role has it; with `create_role = false` give it to your role. null when `create` = false."
  value       = one(data.aws_iam_policy_document.lambda_assume_role[*].json)
}

output "restore_operator_policy_json" {
  description = "IAM policy document (JSON) with exactly what the `restore` command needs for this instance: read the function's settings, describe the databases and DR copies, restore from this instance's copies into the DR region, tag the restored database, use the destination key through RDS. Attach it to the role your on-call engineers assume on DR day (the function's own role cannot restore). null when `create` = false."
  value       = one(data.aws_iam_policy_document.restore_operator[*].json)
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group, where every failure is logged with its fix."
  value       = one(aws_cloudwatch_log_group.lambda[*].name)
}

output "kms_key_arn" {
  description = "ARN of the destination-region KMS key every copy is encrypted with (created, or the `kms_key_arn` passed in)."
  value       = local.kms_key_arn
}

output "kms_key_policy_statements" {
  description = "Key policy (JSON) with the statements this instance's role needs on the destination key: use through RDS, read the key, create grants only for RDS. Needed only for an existing key (`create_kms_key = false`) whose policy does not delegate to IAM (the account-root `kms:*` statement of KMS's default key policy): add these statements to that key's policy, e.g. with `source_policy_documents`. The same statements the created key names the role in. Null with `create = false`."
  value       = one(module.function_key_statements[*].policy_json)
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic the alarms notify (created, or the `sns_topic_arn` passed in)."
  value       = local.sns_topic_arn
}

output "alarm_arns" {
  description = "ARNs of the CloudWatch alarms by purpose: function_errors, target_failures, recovery_point_age, snapshot_quota, dead_letters."
  value = {
    function_errors    = one(aws_cloudwatch_metric_alarm.function_errors[*].arn)
    target_failures    = one(aws_cloudwatch_metric_alarm.target_failures[*].arn)
    recovery_point_age = one(aws_cloudwatch_metric_alarm.recovery_point_age[*].arn)
    snapshot_quota     = one(aws_cloudwatch_metric_alarm.snapshot_quota[*].arn)
    dead_letters       = one(aws_cloudwatch_metric_alarm.dead_letters[*].arn)
  }
}

output "schedule_arns" {
  description = "ARNs of the EventBridge Scheduler schedules: backup, reconcile and copy_waiting (null when `copy_waiting_schedule_expression` is null)."
  value = {
    backup       = one(aws_scheduler_schedule.backup[*].arn)
    reconcile    = one(aws_scheduler_schedule.reconcile[*].arn)
    copy_waiting = one(aws_scheduler_schedule.copy_waiting[*].arn)
  }
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule that passes this instance's \"snapshot created\" RDS events to the function."
  value       = one(aws_cloudwatch_event_rule.snapshot_created[*].arn)
}

output "dead_letter_queue_arn" {
  description = "ARN of the SQS dead-letter queue of the function, the schedules and the event rule."
  value       = one(aws_sqs_queue.dead_letter[*].arn)
}

output "snapshot_prefix" {
  description = "Prefix of every snapshot this instance creates (`<prefix>-<database>-<YYYYMMDD>-<HHMM>`)."
  value       = local.snapshot_prefix
}

output "manual_invoke_commands" {
  description = "AWS CLI commands that run each action on demand (backup, reconcile, preflight); add \"targets\": [\"<id>\"] to the payload to limit a run to some databases. The response is written to response.json."
  value = local.create ? {
    for action in ["backup", "reconcile", "preflight"] : action => join(" ", [
      "aws lambda invoke",
      "--region ${local.source_region}",
      "--function-name ${one(aws_lambda_function.this[*].function_name)}",
      "--cli-binary-format raw-in-base64-out",
      "--payload '${jsonencode({ action = action })}'",
      "response.json",
    ])
  } : {}
}

output "dashboard_arn" {
  description = "ARN of the CloudWatch dashboard (named like the function), or null when create_dashboard = false."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_arn)
}

output "module_version" {
  description = "Release of this module and of its function (semantic version, the `ref` you pinned without the `v`); the function logs it at cold start."
  value       = local.module_version
}

output "drill" {
  description = "The restore drill (null when `restore_drill` is null): its schedule ARN, the SSM parameter holding each database's last drill, and the ARNs of its alarms (failures, overdue)."
  value = local.drill_enabled ? {
    schedule_arn         = one(aws_scheduler_schedule.drill[*].arn)
    state_parameter_name = one(aws_ssm_parameter.drill_state[*].name)
    failures_alarm_arn   = one(aws_cloudwatch_metric_alarm.drill_failures[*].arn)
    overdue_alarm_arn    = one(aws_cloudwatch_metric_alarm.drill_overdue[*].arn)
  } : null
}

output "destination_option_group_names" {
  description = "Names of the option groups the module created in the destination region (`destination_option_groups`), for `option_group_mapping`."
  value       = sort([for group in aws_db_option_group.destination : group.name])
}
