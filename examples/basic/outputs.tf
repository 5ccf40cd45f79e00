output "lambda_function_name" {
  description = "Name of the function."
  value       = module.rds_snapshot_dr.lambda_function_name
}

output "kms_key_arn" {
  description = "ARN of the destination key created for the copies."
  value       = module.rds_snapshot_dr.kms_key_arn
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic created by the module; subscribe to it."
  value       = module.rds_snapshot_dr.sns_topic_arn
}

output "manual_invoke_commands" {
  description = "AWS CLI commands that run backup, reconcile or preflight now."
  value       = module.rds_snapshot_dr.manual_invoke_commands
}
