output "key_arn" {
  description = "ARN of the key; pass it to the root module as `kms_key_arn`."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "Id of the key."
  value       = aws_kms_key.this.key_id
}

output "alias_name" {
  description = "Alias of the key (`alias/<name>`), or null when `create_alias` is false."
  value       = one(aws_kms_alias.this[*].name)
}

output "region" {
  description = "Region the key lives in (the region of the provider passed to this module)."
  value       = data.aws_region.current.name
}
