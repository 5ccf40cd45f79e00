################################################################################
# Destination KMS key: created here (default) or an existing one (create_kms_key = false)
################################################################################

# A created key names this instance's role in its key policy. The role does not depend on the key
# (only the role's policy does), so there is no dependency cycle.
module "destination_kms_key" {
  source = "./modules/destination-kms-key"
  count  = local.create && var.create_kms_key ? 1 : 0

  providers = {
    aws = aws.destination
  }

  name                     = local.name
  function_role_arns       = [aws_iam_role.lambda[0].arn]
  cross_account_principals = var.kms_key_cross_account_principals
  tags                     = local.tags
}

# An existing key gets a grant for the function's role, so the key's policy need not name the role
# (it may predate the role, or be shared by many module instances).
resource "aws_kms_grant" "lambda" {
  provider = aws.destination
  count    = local.create && !var.create_kms_key ? 1 : 0

  name              = local.name
  key_id            = var.kms_key_arn
  grantee_principal = aws_iam_role.lambda[0].arn
  operations = [
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
  ]

  lifecycle {
    # Deferred to apply when the ARN is not known at plan (a key created in the same configuration).
    precondition {
      condition     = split(":", coalesce(var.kms_key_arn, "arn:aws:kms:none"))[3] == local.destination_region
      error_message = "kms_key_arn is a key in ${split(":", coalesce(var.kms_key_arn, "arn:aws:kms:none"))[3]}, but copies are made in ${local.destination_region} (the aws.destination provider's region) and KMS keys cannot be used across regions. Pass a key in ${local.destination_region}, or set create_kms_key = true (and drop kms_key_arn) to have one created."
    }
  }
}
