# Every resource gained `count = local.create ? 1 : 0` (the `create` switch): existing state moves
# to index [0] without being destroyed and created again.

moved {
  from = aws_cloudwatch_metric_alarm.function_errors
  to   = aws_cloudwatch_metric_alarm.function_errors[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.target_failures
  to   = aws_cloudwatch_metric_alarm.target_failures[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.recovery_point_age
  to   = aws_cloudwatch_metric_alarm.recovery_point_age[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.snapshot_quota
  to   = aws_cloudwatch_metric_alarm.snapshot_quota[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letters
  to   = aws_cloudwatch_metric_alarm.dead_letters[0]
}

moved {
  from = aws_iam_role.lambda
  to   = aws_iam_role.lambda[0]
}

moved {
  from = aws_iam_role_policy.lambda
  to   = aws_iam_role_policy.lambda[0]
}

moved {
  from = aws_cloudwatch_log_group.lambda
  to   = aws_cloudwatch_log_group.lambda[0]
}

moved {
  from = aws_sqs_queue.dead_letter
  to   = aws_sqs_queue.dead_letter[0]
}

moved {
  from = aws_sqs_queue_policy.dead_letter
  to   = aws_sqs_queue_policy.dead_letter[0]
}

moved {
  from = aws_lambda_function.this
  to   = aws_lambda_function.this[0]
}

moved {
  from = aws_lambda_function_event_invoke_config.this
  to   = aws_lambda_function_event_invoke_config.this[0]
}

moved {
  from = aws_scheduler_schedule_group.this
  to   = aws_scheduler_schedule_group.this[0]
}

moved {
  from = aws_iam_role.scheduler
  to   = aws_iam_role.scheduler[0]
}

moved {
  from = aws_iam_role_policy.scheduler
  to   = aws_iam_role_policy.scheduler[0]
}

moved {
  from = aws_scheduler_schedule.backup
  to   = aws_scheduler_schedule.backup[0]
}

moved {
  from = aws_scheduler_schedule.reconcile
  to   = aws_scheduler_schedule.reconcile[0]
}

moved {
  from = aws_cloudwatch_event_rule.snapshot_created
  to   = aws_cloudwatch_event_rule.snapshot_created[0]
}

moved {
  from = aws_cloudwatch_event_target.snapshot_created
  to   = aws_cloudwatch_event_target.snapshot_created[0]
}

moved {
  from = aws_lambda_permission.snapshot_created
  to   = aws_lambda_permission.snapshot_created[0]
}
