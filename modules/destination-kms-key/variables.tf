variable "name" {
  description = "Name of the key, used in its description and, with `create_alias`, its alias (`alias/<name>`). Letters, digits, hyphens, underscores and slashes."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9/_-]{1,200}$", var.name)) && !startswith(var.name, "aws/")
    error_message = "name must be 1 to 200 letters, digits, hyphens, underscores or slashes and must not start with \"aws/\" (reserved for AWS managed keys)."
  }
}

variable "create_alias" {
  description = "Whether to create the alias `alias/<name>` for the key."
  type        = bool
  default     = true
  nullable    = false
}

variable "function_role_arns" {
  description = "ARNs of the IAM roles (the rds-snapshot-dr functions) allowed to use the key for snapshot copies, named in the key policy. May be empty: the key policy delegates to IAM (EnableAccountAdministration), so the roles' own IAM policies let them use the key through RDS; a shared key then never depends on the module instances that take its ARN."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.function_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "Every entry of function_role_arns must be an IAM role ARN like arn:aws:iam::123456789012:role/name."
  }
}

variable "cross_account_principals" {
  description = "AWS account ids or IAM principal ARNs of OTHER accounts allowed to use the key, for snapshots shared with them (copy, restore). Empty = none."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for principal in var.cross_account_principals : can(regex("^([0-9]{12}|arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+))$", principal))])
    error_message = "Every entry of cross_account_principals must be a 12-digit account id or an IAM ARN like arn:aws:iam::111122223333:root or arn:aws:iam::111122223333:role/name."
  }
}

variable "deletion_window_in_days" {
  description = "Days between `terraform destroy` and the key's deletion (7 to 30). Every copy encrypted with the key becomes unreadable once it is deleted."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30 && floor(var.deletion_window_in_days) == var.deletion_window_in_days
    error_message = "deletion_window_in_days must be a whole number from 7 to 30."
  }
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
  nullable    = false
}
