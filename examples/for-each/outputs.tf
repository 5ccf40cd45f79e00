output "destination_kms_key_arn" {
  description = "ARN of the destination key shared by every module instance."
  value       = module.destination_key.key_arn
}

output "lambda_function_names" {
  description = "Function name of each module instance, by database."
  value       = { for name, dr in module.rds_snapshot_dr : name => dr.lambda_function_name }
}

output "sns_topic_arns" {
  description = "Alarm topic of each module instance, by database; subscribe to them."
  value       = { for name, dr in module.rds_snapshot_dr : name => dr.sns_topic_arn }
}

output "manual_invoke_commands" {
  description = "AWS CLI commands that run backup, reconcile or preflight now, by database."
  value       = { for name, dr in module.rds_snapshot_dr : name => dr.manual_invoke_commands }
}
