################################################################################
# Destination KMS key: created here (default) or an existing one (create_kms_key = false)
################################################################################

# A created key names this instance's role in its key policy: the role the module creates, or the caller's
# (role_arn, create_role = false), which must then exist before the key: KMS refuses a key policy naming a
# principal that does not exist (AWS Knowledge Center, "How do I resolve the AWS KMS key policy error
# 'Policy contains a statement with one or more invalid principals'?"). The role does not depend on
# the key (only the role's policy does), so there is no dependency cycle.
module "destination_kms_key" {
  source = "./modules/destination-kms-key"
  count  = local.create && var.create_kms_key ? 1 : 0

  providers = {
    aws = aws.destination
  }

  name                     = local.name
  function_role_arns       = local.key_role_arns
  cross_account_principals = var.kms_key_cross_account_principals
  tags                     = local.tags
}

# An existing key (create_kms_key = false) gets no grant. A grant cannot carry the kms:ViaService scope
# of the role's policy, and a grant created from a grant may only pass on its parent's operations (KMS
# Developer Guide, "Creating grants"): a grant of CreateGrant and DescribeKey lets the role create
# grants for any principal, yet never gives RDS Encrypt or Decrypt. What creating an RDS resource under
# a customer managed key needs from the caller is kms:CreateGrant and kms:DescribeKey, in a key policy,
# or in an IAM policy where the key policy allows it (RDS User Guide, "AWS KMS key management"). So the
# existing key's policy either delegates to IAM (KMS's default key policy: the account root may kms:*),
# and the role's own statements (iam.tf: ReadDestinationKey, GrantDestinationKeyToRds,
# UseDestinationKeyThroughRds, scoped to RDS) decide, or it names the role with the statements below,
# the ones modules/destination-kms-key writes for function_role_arns (output kms_key_policy_statements).
module "function_key_statements" {
  source = "./modules/function-key-statements"
  count  = local.create ? 1 : 0

  function_role_arns = local.key_role_arns
  key_region         = local.destination_region
}
