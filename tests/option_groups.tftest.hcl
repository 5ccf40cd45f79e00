# Option groups the module creates in the destination region for option_group_mapping (option_groups.tf),
# and the names RDS refuses.

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

run "a_tde_group_in_the_destination_region_for_the_mapping" {
  command = plan

  variables {
    destination_option_groups = {
      "orders-tde-dr" = {
        engine_name          = "oracle-ee"
        major_engine_version = "19"
        options              = [{ option_name = "TDE" }, { option_name = "Timezone", settings = { TIME_ZONE = "Europe/Berlin" } }]
      }
    }
    option_group_mapping = { "orders-tde" = "orders-tde-dr" }
  }

  assert {
    condition     = aws_db_option_group.destination["orders-tde-dr"].engine_name == "oracle-ee" && aws_db_option_group.destination["orders-tde-dr"].major_engine_version == "19"
    error_message = "The group must be created with the engine and major version given."
  }

  assert {
    condition     = [for o in aws_db_option_group.destination["orders-tde-dr"].option : o.option_name] == ["TDE", "Timezone"]
    error_message = "Every option given must be in the group, in order."
  }

  assert {
    condition     = [for o in aws_db_option_group.destination["orders-tde-dr"].option : [for s in o.option_settings : "${s.name}=${s.value}"]] == [[], ["TIME_ZONE=Europe/Berlin"]]
    error_message = "Option settings must be carried by name."
  }

  assert {
    condition     = output.destination_option_group_names == tolist(["orders-tde-dr"])
    error_message = "The output must name the created groups."
  }

  assert {
    condition     = jsondecode(aws_lambda_function.this[0].environment[0].variables["OPTION_GROUP_MAPPING"]) == { "orders-tde" = "orders-tde-dr" }
    error_message = "The function must get the mapping that names the group."
  }
}

run "none_by_default" {
  command = plan

  assert {
    condition     = length(aws_db_option_group.destination) == 0 && length(output.destination_option_group_names) == 0
    error_message = "No option group without destination_option_groups."
  }
}

run "a_group_name_rds_refuses" {
  command = plan

  variables {
    destination_option_groups = { "1-orders" = { engine_name = "oracle-ee", major_engine_version = "19" } }
  }

  expect_failures = [var.destination_option_groups]
}
