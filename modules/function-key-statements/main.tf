# The key policy statements that let rds-snapshot-dr functions use a destination key: one source for
# the key modules/destination-kms-key creates and for an existing key whose policy does not delegate to
# IAM (the root module's output kms_key_policy_statements). No resources and no provider: statements
# only, as objects for a `dynamic "statement"` of aws_iam_policy_document and as policy JSON.

locals {
  rds_service = "rds.${var.key_region}.amazonaws.com"

  # What RDS needs on the destination key to write and read encrypted copies.
  key_use_actions = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
  ]

  # kms:ViaService: requests RDS makes on the principal's behalf in the key's region (KMS Developer
  # Guide, "AWS KMS condition keys", kms:ViaService; RDS User Guide, "AWS KMS key management"). The
  # Service Authorization Reference (AWS Key Management Service) lists kms:ViaService for every action
  # below, and kms:GrantIsForAWSResource for CreateGrant, ListGrants and RevokeGrant.
  via_rds = { test = "StringEquals", variable = "kms:ViaService", values = [local.rds_service] }

  every_statement = [
    {
      # Use of the key, only through RDS.
      sid        = "AllowFunctionRolesThroughRds"
      actions    = local.key_use_actions
      principals = var.function_role_arns
      conditions = [local.via_rds]
    },
    {
      # Preflight reads the key, its policy and its grants directly, not through RDS: read-only.
      sid        = "AllowFunctionRolesReadKey"
      actions    = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"]
      principals = var.function_role_arns
      conditions = []
    },
    {
      # Creating an RDS resource under a customer managed key needs kms:CreateGrant and kms:DescribeKey
      # from the caller (RDS User Guide, "AWS KMS key management", Authorizing use of a customer managed
      # key): grants only for AWS resources, and only when RDS asks.
      sid        = "AllowFunctionRolesGrantsForRds"
      actions    = ["kms:CreateGrant"]
      principals = var.function_role_arns
      conditions = [{ test = "Bool", variable = "kms:GrantIsForAWSResource", values = ["true"] }, local.via_rds]
    },
  ]
  # No role, no statement: a principal list may not be empty.
  statements = [for statement in local.every_statement : statement if length(var.function_role_arns) > 0]
}
