# A first `terraform plan` knows no ARN of a resource that does not exist yet. These mock providers
# keep the default override_during (apply), so every computed attribute (a key's or a topic's ARN)
# is unknown at plan, as on a real first plan. The examples that pass such an ARN to the module
# must still plan: what the module creates may only depend on create_kms_key / create_sns_topic,
# never on the value of kms_key_arn / sns_topic_arn.

mock_provider "aws" {
  source = "./tests/mocks/source"
}

mock_provider "aws" {
  alias  = "destination"
  source = "./tests/mocks/destination"
}

run "basic_example_plans_with_every_arn_unknown" {
  command = plan

  module {
    source = "./examples/basic"
  }

  assert {
    condition     = output.lambda_function_name == "orders-rds-snapshot-dr"
    error_message = "The basic example plans its key and topic while their ARNs are still unknown."
  }
}

run "for_each_example_plans_with_a_key_created_in_the_same_plan" {
  command = plan

  module {
    source = "./examples/for-each"
  }

  assert {
    condition     = alltrue([for name, dr in module.rds_snapshot_dr : length(dr.lambda_function_name) > 0]) && keys(output.lambda_function_names) == ["billing", "inventory", "orders"]
    error_message = "The for-each example plans one function per database while the shared key's ARN is still unknown."
  }
}

run "complete_example_plans_with_a_key_and_topic_created_in_the_same_plan" {
  command = plan

  module {
    source = "./examples/complete"
  }

  assert {
    condition     = length(output.alarm_arns) == 5 && toset(keys(output.schedule_arns)) == toset(["backup", "reconcile", "copy_waiting"])
    error_message = "The complete example plans every alarm and all three schedules while the key's and the topic's ARNs are still unknown."
  }
}

run "own_role_created_beside_the_module_plans_with_its_arn_unknown" {
  command = plan

  # docs/bring-your-own-role.md: the caller creates the role from function_trust_policy_json and attaches
  # function_policy_json; role_arn is unknown at plan.
  module {
    source = "./tests/byo_role"
  }

  assert {
    condition     = output.lambda_function_name == "orders-rds-snapshot-dr"
    error_message = "A module given an own role whose ARN is still unknown plans its function."
  }
}
