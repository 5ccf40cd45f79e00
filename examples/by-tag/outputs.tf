output "lambda_function_name" {
  description = "Name of the function that protects every tagged database of the region."
  value       = module.rds_snapshot_dr.lambda_function_name
}

output "kms_key_arn" {
  description = "ARN of the destination key created for the copies."
  value       = module.rds_snapshot_dr.kms_key_arn
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic created by the module."
  value       = module.rds_snapshot_dr.sns_topic_arn
}

output "alarm_arns" {
  description = "ARNs of the alarms by purpose."
  value       = module.rds_snapshot_dr.alarm_arns
}

output "snapshot_prefix" {
  description = "Prefix of every snapshot the module instance creates (and may delete)."
  value       = module.rds_snapshot_dr.snapshot_prefix
}

output "manual_invoke_commands" {
  description = "AWS CLI commands that run backup, reconcile or preflight now."
  value       = module.rds_snapshot_dr.manual_invoke_commands
}
