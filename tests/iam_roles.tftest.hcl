# Every role the module creates takes the permissions boundary and the path of the
# iam_role_permissions_boundary / iam_role_path inputs, and bad values are refused at plan.
# (tests/unit/test_module_roles.py checks that no aws_iam_role in the module forgets them.)

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

run "roles_have_no_boundary_and_the_root_path_by_default" {
  command = plan

  assert {
    condition     = alltrue([for role in [aws_iam_role.lambda[0], aws_iam_role.scheduler[0]] : role.path == "/" && role.permissions_boundary == null])
    error_message = "Without the inputs, roles have no boundary and the path \"/\"."
  }
}

run "boundary_and_path_apply_to_every_role" {
  command = plan

  variables {
    iam_role_permissions_boundary = "arn:aws:iam::123456789012:policy/platform/workload-boundary"
    iam_role_path                 = "/platform/dr/"
  }

  assert {
    condition     = aws_iam_role.lambda[0].permissions_boundary == "arn:aws:iam::123456789012:policy/platform/workload-boundary" && aws_iam_role.lambda[0].path == "/platform/dr/"
    error_message = "The function's role takes the boundary and the path."
  }

  assert {
    condition     = aws_iam_role.scheduler[0].permissions_boundary == "arn:aws:iam::123456789012:policy/platform/workload-boundary" && aws_iam_role.scheduler[0].path == "/platform/dr/"
    error_message = "The scheduler's role takes the boundary and the path."
  }
}

run "an_aws_managed_policy_is_a_valid_boundary" {
  command = plan

  variables {
    iam_role_permissions_boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
  }
}

run "boundary_must_be_a_policy_arn" {
  command = plan

  variables {
    iam_role_permissions_boundary = "arn:aws:iam::123456789012:role/platform-boundary"
  }

  expect_failures = [var.iam_role_permissions_boundary]
}

run "boundary_must_not_be_a_policy_name" {
  command = plan

  variables {
    iam_role_permissions_boundary = "platform-boundary"
  }

  expect_failures = [var.iam_role_permissions_boundary]
}

run "path_must_begin_and_end_with_a_slash" {
  command = plan

  variables {
    iam_role_path = "platform"
  }

  expect_failures = [var.iam_role_path]
}

run "path_must_not_contain_spaces" {
  command = plan

  variables {
    iam_role_path = "/data platform/"
  }

  expect_failures = [var.iam_role_path]
}
