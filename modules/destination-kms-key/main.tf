data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  rds_service  = "rds.${data.aws_region.current.name}.amazonaws.com"

  cross_account_principals = [
    for principal in var.cross_account_principals :
    can(regex("^[0-9]{12}$", principal)) ? "arn:${data.aws_partition.current.partition}:iam::${principal}:root" : principal
  ]

  # What RDS needs on the destination key to write and read encrypted copies.
  key_use_actions = module.function_statements.key_use_actions
}

# The statements naming the function roles: the same ones the root module renders as its output
# kms_key_policy_statements, for an existing key whose policy does not delegate to IAM.
module "function_statements" {
  source = "../function-key-statements"

  function_role_arns = var.function_role_arns
  key_region         = data.aws_region.current.name
}

data "aws_iam_policy_document" "key" {
  # In a key policy, Resource "*" means "this key": there is no other resource to name.
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; administration stays with the account.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; write use is limited by principal and kms:ViaService.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself, never other resources.

  statement {
    sid       = "EnableAccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    # The account (through its IAM policies) administers the key, so it never becomes unmanageable.
    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  statement {
    sid       = "AllowRdsUseInAccount"
    actions   = local.key_use_actions
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.rds_service]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  dynamic "statement" {
    for_each = module.function_statements.statements

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = statement.value.principals
      }

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  # "Grant Cross-Account Access": other accounts may use the key for snapshots shared with them, only
  # through RDS in the key's region, and let RDS create the grants it needs, nothing more. kms:ViaService
  # limits use of the key to requests RDS makes on the principal's behalf (KMS Developer Guide, "AWS KMS
  # condition keys", kms:ViaService; RDS User Guide, "AWS KMS key management"); without it the other
  # accounts could Encrypt and Decrypt directly.
  dynamic "statement" {
    for_each = length(local.cross_account_principals) > 0 ? [1] : []

    content {
      sid       = "AllowCrossAccountUse"
      actions   = local.key_use_actions
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = local.cross_account_principals
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.rds_service]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.cross_account_principals) > 0 ? [1] : []

    content {
      sid       = "AllowCrossAccountGrantsForRds"
      actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = local.cross_account_principals
      }

      # kms:GrantIsForAWSResource: only when an AWS service integrated with KMS asks on the principal's
      # behalf (KMS Developer Guide, "Controlling access to grants"); kms:ViaService: only RDS in the
      # key's region. Both keys exist for CreateGrant, ListGrants and RevokeGrant (Service Authorization
      # Reference, AWS Key Management Service).
      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.rds_service]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "rds-snapshot-dr ${var.name}: encrypts cross-region RDS snapshot copies in ${data.aws_region.current.name}."
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_alias ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
