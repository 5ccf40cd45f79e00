output "lambda_function_name" {
  description = "Name of the function."
  value       = module.rds_snapshot_dr.lambda_function_name
}

output "lambda_role_arn" {
  description = "ARN of the function's role."
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

output "restore_operator_policy_json" {
  description = "The IAM policy the person who runs the restore command needs: attach it to your on-call role."
  value       = module.rds_snapshot_dr.restore_operator_policy_json
}

output "kms_key_policy_statements" {
  description = "Key policy statements the function's role needs on the destination key, for a key whose policy does not delegate to IAM (this example's key does, so it needs none)."
  value       = module.rds_snapshot_dr.kms_key_policy_statements
}
