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
# (it may predate the role, or be shared by many module instances). A grant cannot carry the
# kms:ViaService scope of the role's policy: its only constraints are EncryptionContextEquals /
# EncryptionContextSubset (KMS API Reference, GrantConstraints), and RDS's encryption context holds
# the id of each DB resource ("aws:rds:db-id", KMS Developer Guide, "How Amazon RDS uses AWS KMS"),
# which differs per database and per copy and is unknown here, so no context constraint can be
# written that every copy meets. What the grant can narrow is its operations: creating an RDS
# resource under a customer managed key needs exactly kms:CreateGrant and kms:DescribeKey from the
# caller (RDS User Guide, "AWS KMS key management", Authorizing use of a customer managed key); RDS
# then works under the grant it creates for itself. No Encrypt, Decrypt, GenerateDataKey or ReEncrypt.
resource "aws_kms_grant" "lambda" {
  provider = aws.destination
  count    = local.create && !var.create_kms_key ? 1 : 0

  name              = local.name
  key_id            = var.kms_key_arn
  grantee_principal = aws_iam_role.lambda[0].arn
  operations        = ["CreateGrant", "DescribeKey"]

  # No grant on a key the ARN checks refuse (wrong region, account or partition: main.tf).
  depends_on = [terraform_data.input_checks[0]]
}
