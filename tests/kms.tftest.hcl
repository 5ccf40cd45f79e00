# The destination key: created through modules/destination-kms-key, or an existing key whose policy lets
# the function's role use it (no grant: issue 19, finding 4). And the key policies' conditions (finding 10).

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

run "created_key_is_used" {
  command = plan

  assert {
    condition     = length(module.destination_kms_key) == 1
    error_message = "By default (create_kms_key = true) the module creates a key."
  }

  assert {
    condition     = output.kms_key_arn == module.destination_kms_key[0].key_arn && startswith(output.kms_key_arn, "arn:aws:kms:eu-central-1:")
    error_message = "The created key lives in the destination region and is the one the function uses."
  }
}

run "existing_key_gets_no_grant_and_the_statements_its_policy_needs" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = length(module.destination_kms_key) == 0
    error_message = "With create_kms_key = false the module creates no key."
  }

  assert {
    condition     = aws_lambda_function.this[0].environment[0].variables["DESTINATION_KMS_KEY_ARN"] == var.kms_key_arn && output.kms_key_arn == var.kms_key_arn
    error_message = "The function must copy with the given key."
  }

  # The key policy statements a key that does not delegate to IAM must carry: the same statements the
  # submodule writes for function_role_arns (one source), naming this instance's role.
  assert {
    condition = toset([for s in jsondecode(output.kms_key_policy_statements).Statement : s.Sid]) == toset([
      "AllowFunctionRolesThroughRds", "AllowFunctionRolesReadKey", "AllowFunctionRolesGrantsForRds",
    ])
    error_message = "kms_key_policy_statements holds the function-role statements of the key policy."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.kms_key_policy_statements).Statement :
      s.Effect == "Allow" && s.Principal.AWS == [aws_iam_role.lambda[0].arn] && s.Resource == "*"
    ])
    error_message = "Every statement names the function's role, and only it."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.kms_key_policy_statements).Statement :
      s.Condition.StringEquals["kms:ViaService"] == ["rds.eu-central-1.amazonaws.com"]
      if s.Sid != "AllowFunctionRolesReadKey"
    ])
    error_message = "Use of the key and grants go through RDS in the key's region (kms:ViaService)."
  }

  assert {
    condition = one([
      for s in jsondecode(output.kms_key_policy_statements).Statement : s
      if s.Sid == "AllowFunctionRolesGrantsForRds"
      ]).Action == ["kms:CreateGrant"] && one([
      for s in jsondecode(output.kms_key_policy_statements).Statement : s
      if s.Sid == "AllowFunctionRolesGrantsForRds"
    ]).Condition.Bool["kms:GrantIsForAWSResource"] == ["true"]
    error_message = "The role may create grants only for AWS resources (kms:GrantIsForAWSResource)."
  }
}

run "alarm_key_lets_cloudwatch_use_it_only_for_this_account" {
  command = plan

  # Issue 19, finding 10: without aws:SourceAccount, CloudWatch acting for alarms of any account
  # could use the key.
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.alarms_key[0].statement : anytrue([
        for c in s.condition : c.test == "StringEquals" && c.variable == "aws:SourceAccount" && toset(c.values) == toset(["123456789012"])
      ]) if s.sid == "AllowCloudWatchAlarmsToPublish"
    ])
    error_message = "The alarm topic's key lets CloudWatch use it only on behalf of this account (aws:SourceAccount)."
  }
}

run "cross_account_principals_by_account_id_and_by_arn_plan" {
  command = plan

  # Terraform's || does not short-circuit: the partition check of an ARN must not index an account id.
  variables {
    kms_key_cross_account_principals = ["111122223333", "arn:aws:iam::444455556666:role/dr-restore"]
  }

  assert {
    condition     = length(module.destination_kms_key) == 1
    error_message = "Account ids and ARNs of other accounts are both accepted."
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
      "AllowFunctionRolesReadKey", "AllowFunctionRolesGrantsForRds", "AllowCrossAccountUse",
      "AllowCrossAccountGrantsForRds",
    ])
    error_message = "The key policy must have its documented statements."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.key.statement : anytrue([
        for c in s.condition : c.test == "StringEquals" && c.variable == "kms:ViaService" && toset(c.values) == toset(["rds.eu-central-1.amazonaws.com"])
      ]) if !contains(["EnableAccountAdministration", "AllowFunctionRolesReadKey"], s.sid)
    ])
    error_message = "Every use of the key, and every grant, by this account, the function roles or other accounts goes through rds.<destination region>.amazonaws.com (kms:ViaService; issue 19, finding 10)."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.key.statement :
      length(s.condition) > 0 if contains(s.actions, "kms:Decrypt") || contains(s.actions, "kms:Encrypt")
    ])
    error_message = "No statement allows Encrypt or Decrypt without a condition: other accounts use the key only through RDS."
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
