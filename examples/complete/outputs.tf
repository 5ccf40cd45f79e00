output "lambda_function_name" {
  description = "Name of the function."
  value       = module.rds_snapshot_dr.lambda_function_name
}

output "lambda_role_arn" {
  description = "ARN of the function's role (it holds a grant on the destination key)."
  value       = module.rds_snapshot_dr.lambda_role_arn
}

output "alarm_arns" {
  description = "ARNs of the module's alarms, by purpose."
  value       = module.rds_snapshot_dr.alarm_arns
}

output "schedule_arns" {
  description = "ARNs of the backup, reconcile and copy-waiting schedules."
  value       = module.rds_snapshot_dr.schedule_arns
}

output "manual_invoke_commands" {
  description = "AWS CLI commands that run backup, reconcile or preflight now."
  value       = module.rds_snapshot_dr.manual_invoke_commands
}
