# Bring your own role: with create_role = false the module creates no IAM role, role policy or attachment
# for the function, and everything that names the function's role names role_arn instead: the function,
# the key policy statements, preflight's SimulateOwnPermissions and the output lambda_role_arn. Bad
# combinations of the two inputs are refused at plan, naming the input to change.

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
  # A role with a path: the ARN is passed on whole, never rebuilt from a name.
  own_role = "arn:aws:iam::123456789012:role/platform/orders-dr-function"
}

run "the_module_creates_the_role_by_default" {
  command = plan

  assert {
    condition     = length(aws_iam_role.lambda) == 1 && length(aws_iam_role_policy.lambda) == 1
    error_message = "By default the module creates the function's role and its policy."
  }

  assert {
    condition     = aws_lambda_function.this[0].role == aws_iam_role.lambda[0].arn && output.lambda_role_arn == aws_iam_role.lambda[0].arn
    error_message = "By default the function runs with the module's role."
  }

  assert {
    condition     = output.function_trust_policy_json == data.aws_iam_policy_document.lambda_assume_role[0].json
    error_message = "The trust policy output is the module's role's trust policy."
  }
}

run "own_role_creates_no_role_resources" {
  command = plan

  variables {
    create_role = false
    role_arn    = var.own_role
  }

  assert {
    condition = alltrue([
      length(aws_iam_role.lambda) == 0,
      length(aws_iam_role_policy.lambda) == 0,
      length(aws_iam_role_policy.drill) == 0,
    ])
    error_message = "With create_role = false the module creates no role and no role policy for the function."
  }

  assert {
    condition     = aws_lambda_function.this[0].role == var.own_role
    error_message = "The function runs with role_arn."
  }

  assert {
    condition     = output.lambda_role_arn == var.own_role
    error_message = "The output lambda_role_arn is role_arn."
  }

  # The key the module creates names the role (modules/destination-kms-key takes the same statements the
  # output kms_key_policy_statements renders, from modules/function-key-statements).
  assert {
    condition     = length(module.destination_kms_key) == 1
    error_message = "The module still creates the destination key."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.kms_key_policy_statements).Statement : s.Principal.AWS == [var.own_role]
    ])
    error_message = "The key policy statements name role_arn."
  }

  # Preflight checks its own role's permissions: the statement names the caller's role.
  assert {
    condition = one([
      for s in data.aws_iam_policy_document.lambda[0].statement : s.resources if s.sid == "SimulateOwnPermissions"
    ]) == toset([var.own_role])
    error_message = "SimulateOwnPermissions names role_arn."
  }

  # The scheduler's and the copy-events role are the module's still (create_role covers the function's role).
  assert {
    condition     = length(aws_iam_role.scheduler) == 1 && length(aws_iam_role.copy_events) == 1
    error_message = "create_role = false leaves the scheduler's and the copy-events role to the module."
  }
}

run "own_role_with_the_drill_creates_no_drill_policy" {
  command = plan

  variables {
    create_role = false
    role_arn    = var.own_role
    restore_drill = {
      databases = ["orders-db"]
    }
  }

  assert {
    condition     = length(aws_iam_role_policy.drill) == 0 && length(data.aws_iam_policy_document.drill) == 1
    error_message = "With create_role = false the drill's statements are rendered, never attached by the module."
  }
}

run "own_role_of_an_existing_key" {
  command = plan

  variables {
    create_role    = false
    role_arn       = var.own_role
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.kms_key_policy_statements).Statement : s.Principal.AWS == [var.own_role]
    ])
    error_message = "The statements for an existing key's policy name role_arn."
  }
}

run "create_false_outputs_no_role" {
  command = plan

  variables {
    create      = false
    create_role = false
    role_arn    = var.own_role
  }

  assert {
    condition     = output.lambda_role_arn == null && output.function_policy_json == null && output.function_trust_policy_json == null
    error_message = "With create = false the role outputs are null."
  }
}

# --- Refused at plan ---------------------------------------------------------------------------

run "own_role_needs_role_arn" {
  command = plan

  variables {
    create_role = false
  }

  expect_failures = [terraform_data.input_checks]
}

run "role_arn_with_create_role" {
  command = plan

  variables {
    role_arn = var.own_role
  }

  expect_failures = [terraform_data.input_checks]
}

run "role_arn_of_another_account" {
  command = plan

  variables {
    create_role = false
    role_arn    = "arn:aws:iam::210987654321:role/orders-dr-function"
  }

  expect_failures = [terraform_data.input_checks]
}

run "role_arn_of_another_partition" {
  command = plan

  variables {
    create_role = false
    role_arn    = "arn:aws-cn:iam::123456789012:role/orders-dr-function"
  }

  expect_failures = [terraform_data.input_checks]
}

run "role_arn_must_not_be_a_role_name" {
  command = plan

  variables {
    create_role = false
    role_arn    = "orders-dr-function"
  }

  expect_failures = [var.role_arn]
}

run "role_arn_must_not_be_a_policy_arn" {
  command = plan

  variables {
    create_role = false
    role_arn    = "arn:aws:iam::123456789012:policy/orders-dr-function"
  }

  expect_failures = [var.role_arn]
}

run "role_arn_must_not_be_an_instance_profile" {
  command = plan

  variables {
    create_role = false
    role_arn    = "arn:aws:iam::123456789012:instance-profile/orders-dr-function"
  }

  expect_failures = [var.role_arn]
}

run "role_arn_must_name_a_role" {
  command = plan

  variables {
    create_role = false
    role_arn    = "arn:aws:iam::123456789012:role/platform/"
  }

  expect_failures = [var.role_arn]
}
