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

  # Issue 19, finding 10: CloudWatch may use the topic's key only for alarms of this account.
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.alarms_key.statement : anytrue([
        for c in s.condition : c.test == "StringEquals" && c.variable == "aws:SourceAccount" && toset(c.values) == toset(["123456789012"])
      ]) if s.sid == "AllowCloudWatchAlarmsToPublish"
    ])
    error_message = "The alarm key lets CloudWatch use it only on behalf of this account (aws:SourceAccount)."
  }

  # Issue 19, finding 4: an existing key gets no grant; the example's key delegates to IAM.
  assert {
    condition     = startswith(output.kms_key_policy_statements, "{")
    error_message = "The complete example shows the key policy statements an existing key needs when it does not delegate to IAM."
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
    error_message = "Every module instance has its own role (the shared key delegates to IAM)."
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
