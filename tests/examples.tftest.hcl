# Every example plans with the module as it is: what a user copies works.

mock_provider "aws" {
  source          = "./tests/mocks/source"
  override_during = plan
}

mock_provider "aws" {
  alias           = "destination"
  source          = "./tests/mocks/destination"
  override_during = plan
}

run "basic_example_plans" {
  command = plan

  module {
    source = "./examples/basic"
  }

  assert {
    condition     = output.lambda_function_name == "orders-rds-snapshot-dr" && startswith(output.kms_key_arn, "arn:aws:kms:eu-central-1:")
    error_message = "The basic example creates the function and a destination key."
  }
}

run "complete_example_plans" {
  command = plan

  module {
    source = "./examples/complete"
  }

  assert {
    condition     = length(output.alarm_arns) == 5 && toset(keys(output.schedule_arns)) == toset(["backup", "reconcile", "copy_waiting"])
    error_message = "The complete example has every alarm and all three schedules."
  }
}

run "for_each_example_plans" {
  command = plan

  module {
    source = "./examples/for-each"
  }

  assert {
    condition     = keys(output.lambda_function_names) == ["billing", "inventory", "orders"]
    error_message = "The for-each example creates one function per database."
  }

  assert {
    condition     = alltrue([for name, dr in module.rds_snapshot_dr : dr.kms_key_arn == output.destination_kms_key_arn])
    error_message = "Every module instance copies with the shared destination key."
  }

  assert {
    condition     = alltrue([for name, dr in module.rds_snapshot_dr : startswith(dr.lambda_role_arn, "arn:aws:iam::")])
    error_message = "Every module instance has its own role (granted on the shared key)."
  }
}

run "by_tag_example_plans" {
  command = plan

  module {
    source = "./examples/by-tag"
  }

  assert {
    condition     = output.lambda_function_name == "platform-rds-snapshot-dr" && startswith(output.kms_key_arn, "arn:aws:kms:eu-central-1:")
    error_message = "The by-tag example creates one function and a destination key."
  }

  assert {
    condition     = output.snapshot_prefix == "dr8-platform" && length(output.alarm_arns) == 5
    error_message = "The by-tag example names its snapshots dr8-platform-... and has every alarm."
  }
}
