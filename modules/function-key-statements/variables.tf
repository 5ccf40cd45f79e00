variable "function_role_arns" {
  description = "ARNs of the IAM roles (the rds-snapshot-dr functions) the statements name. Empty = no statements."
  type        = list(string)
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.function_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "Every entry of function_role_arns must be an IAM role ARN like arn:aws:iam::123456789012:role/name."
  }
}

variable "key_region" {
  description = "Region of the destination key: RDS uses it there, so kms:ViaService is rds.<key_region>.amazonaws.com."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.key_region))
    error_message = "key_region must be an AWS region name such as eu-central-1."
  }
}
