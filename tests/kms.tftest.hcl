# The destination key: created through modules/destination-kms-key, or an existing key with a grant.

mock_provider "aws" {
  source          = "./tests/mocks/source"
  override_during = plan
}

mock_provider "aws" {
  alias           = "destination"
  source          = "./tests/mocks/destination"
  override_during = plan
}

variables {
  name                    = "orders"
  db_instance_identifiers = ["orders-db"]
}

run "created_key_is_used_and_no_grant_is_made" {
  command = plan

  assert {
    condition     = length(module.destination_kms_key) == 1 && length(aws_kms_grant.lambda) == 0
    error_message = "By default (create_kms_key = true) the module creates a key and needs no grant."
  }

  assert {
    condition     = output.kms_key_arn == module.destination_kms_key[0].key_arn && startswith(output.kms_key_arn, "arn:aws:kms:eu-central-1:")
    error_message = "The created key lives in the destination region and is the one the function uses."
  }
}

run "existing_key_gets_a_grant_for_the_function_role" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = length(module.destination_kms_key) == 0 && length(aws_kms_grant.lambda) == 1
    error_message = "With create_kms_key = false the module creates no key, only a grant."
  }

  assert {
    condition     = aws_kms_grant.lambda[0].key_id == var.kms_key_arn && aws_kms_grant.lambda[0].grantee_principal == aws_iam_role.lambda[0].arn
    error_message = "The grant is on the given key, for the function's role."
  }

  assert {
    condition     = toset(aws_kms_grant.lambda[0].operations) == toset(["CreateGrant", "DescribeKey"])
    error_message = "The grant must allow exactly what creating an RDS resource under the key needs (CreateGrant, DescribeKey)."
  }

  assert {
    condition     = aws_lambda_function.this[0].environment[0].variables["DESTINATION_KMS_KEY_ARN"] == var.kms_key_arn && output.kms_key_arn == var.kms_key_arn
    error_message = "The function must copy with the given key."
  }
}

run "key_policy_of_the_submodule" {
  command = plan

  module {
    source = "./modules/destination-kms-key"
  }

  providers = {
    aws = aws.destination
  }

  variables {
    name                     = "shared-dr"
    function_role_arns       = ["arn:aws:iam::123456789012:role/orders-rds-snapshot-dr"]
    cross_account_principals = ["111122223333"]
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_alias.this[0].name == "alias/shared-dr"
    error_message = "The key rotates and gets its alias."
  }

  assert {
    condition = toset([for s in data.aws_iam_policy_document.key.statement : s.sid]) == toset([
      "EnableAccountAdministration", "AllowRdsUseInAccount", "AllowFunctionRolesThroughRds",
      "AllowFunctionRolesDescribeKey", "AllowFunctionRolesGrantsForRds", "AllowCrossAccountUse",
      "AllowCrossAccountGrantsForRds",
    ])
    error_message = "The key policy must have its documented statements."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.key.statement : anytrue([
        for c in s.condition : c.variable == "kms:ViaService" && toset(c.values) == toset(["rds.eu-central-1.amazonaws.com"])
      ]) if contains(["AllowRdsUseInAccount", "AllowFunctionRolesThroughRds"], s.sid)
    ])
    error_message = "RDS use of the key goes through rds.<destination region>.amazonaws.com."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.key.statement : anytrue([
        for c in s.condition : c.variable == "kms:GrantIsForAWSResource" && toset(c.values) == toset(["true"])
      ]) if contains(s.actions, "kms:CreateGrant") && s.sid != "EnableAccountAdministration"
    ])
    error_message = "CreateGrant is only allowed for AWS resources."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.key.statement : [for p in s.principals : p.identifiers] if s.sid == "AllowFunctionRolesThroughRds"
    ])) == toset(["arn:aws:iam::123456789012:role/orders-rds-snapshot-dr"])
    error_message = "The function roles are named in the key policy."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.key.statement : [for p in s.principals : p.identifiers] if s.sid == "AllowCrossAccountUse"
    ])) == toset(["arn:aws:iam::111122223333:root"])
    error_message = "An account id becomes that account's root principal."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.key.statement : [for p in s.principals : !contains(p.identifiers, "*")]
    ]))
    error_message = "No statement of the key policy may name every principal."
  }
}

run "submodule_without_roles_or_other_accounts" {
  command = plan

  module {
    source = "./modules/destination-kms-key"
  }

  providers = {
    aws = aws.destination
  }

  variables {
    name         = "shared-dr"
    create_alias = false
  }

  assert {
    condition     = toset([for s in data.aws_iam_policy_document.key.statement : s.sid]) == toset(["EnableAccountAdministration", "AllowRdsUseInAccount"])
    error_message = "Without roles or other accounts, the key policy keeps the account and RDS statements only."
  }

  assert {
    condition     = length(aws_kms_alias.this) == 0 && output.alias_name == null
    error_message = "No alias when create_alias is false."
  }
}

run "submodule_rejects_a_malformed_cross_account_principal" {
  command = plan

  module {
    source = "./modules/destination-kms-key"
  }

  providers = {
    aws = aws.destination
  }

  variables {
    name                     = "shared-dr"
    cross_account_principals = ["someone-else"]
  }

  expect_failures = [var.cross_account_principals]
}
