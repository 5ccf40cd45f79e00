# The restore drill at plan: off by default, its validations, the schedule, and the IAM condition that
# keeps the role away from every database that is not a drill database of this module instance.

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
  db_cluster_identifiers  = ["inventory-aurora"]
}

run "drill_is_off_by_default_and_changes_nothing" {
  command = plan

  assert {
    condition = (
      length(aws_scheduler_schedule.drill) == 0 && length(aws_iam_role_policy.drill) == 0 &&
      length(aws_ssm_parameter.drill_state) == 0 && length(aws_cloudwatch_metric_alarm.drill_failures) == 0 &&
      length(aws_cloudwatch_metric_alarm.drill_overdue) == 0
    )
    error_message = "Without restore_drill the module must create no drill resource."
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.this[0].environment[0].variables), "DRILL_SETTINGS") && !contains(keys(aws_lambda_function.this[0].environment[0].variables), "RESTORE_SETTINGS")
    error_message = "Without restore settings or a drill the function's environment must stay as it was."
  }
}

run "drill_schedule_settings_and_state" {
  command = plan

  variables {
    restore = {
      db_subnet_group_name   = "dr-private"
      vpc_security_group_ids = ["sg-0123456789abcdef0"]
    }
    restore_drill = {
      instance_class = "db.t4g.medium"
      databases      = ["orders-db"]
    }
  }

  assert {
    condition     = aws_scheduler_schedule.drill[0].schedule_expression == "cron(0 3 ? * SUN *)" && jsondecode(aws_scheduler_schedule.drill[0].target[0].input) == { action = "drill" }
    error_message = "The drill schedule must invoke the function with {\"action\": \"drill\"} weekly by default."
  }

  assert {
    condition     = aws_scheduler_schedule.drill[0].target[0].arn == aws_lambda_function.this[0].arn && aws_scheduler_schedule.drill[0].target[0].dead_letter_config[0].arn == aws_sqs_queue.dead_letter[0].arn
    error_message = "The drill schedule must target the function, with the dead-letter queue."
  }

  assert {
    condition = jsondecode(aws_lambda_function.this[0].environment[0].variables["DRILL_SETTINGS"]) == {
      databases              = ["orders-db"]
      instance_class         = "db.t4g.medium"
      db_subnet_group_name   = null
      vpc_security_group_ids = []
      max_lifetime_minutes   = 240
      overdue_days           = 35
      state_parameter        = "/rds-snapshot-dr/orders/drill"
      schedule_expression    = "cron(0 3 ? * SUN *)"
    }
    error_message = "DRILL_SETTINGS must carry the drill variable and the state parameter's name."
  }

  assert {
    condition     = jsondecode(aws_lambda_function.this[0].environment[0].variables["RESTORE_SETTINGS"]).db_subnet_group_name == "dr-private"
    error_message = "RESTORE_SETTINGS must carry the restore variable."
  }

  assert {
    condition     = aws_ssm_parameter.drill_state[0].name == "/rds-snapshot-dr/orders/drill" && aws_ssm_parameter.drill_state[0].type == "String"
    error_message = "The drill's state must live in its own parameter."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.drill_overdue[0].metric_name == "DrillOverdueDatabases" && aws_cloudwatch_metric_alarm.drill_overdue[0].treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.drill_failures[0].metric_name == "DrillFailures"
    error_message = "The drill must alarm on failures and on an overdue database (silence counts as overdue)."
  }
}

run "drill_role_may_delete_only_tagged_drill_databases" {
  command = plan

  variables {
    restore_drill = {}
  }

  assert {
    condition = toset([for s in data.aws_iam_policy_document.drill[0].statement : s.sid]) == toset([
      "RestoreDrillInstances", "RestoreDrillClusters", "CreateDrillWriters", "TagDrillDatabases",
      "DeleteDrillInstances", "DeleteDrillClusters", "SeeDrillDatabases", "KeepDrillState",
    ])
    error_message = "The drill policy must hold exactly its documented statements."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.drill[0].statement :
      length([
        for c in s.condition : c
        if c.test == "StringEquals" && c.variable == "aws:RequestTag/rds-snapshot-dr:drill" && toset(c.values) == toset(["orders"])
      ]) == 1
      if contains(["RestoreDrillInstances", "RestoreDrillClusters", "CreateDrillWriters", "TagDrillDatabases"], s.sid)
    ])
    error_message = "Every statement that creates or tags a drill database must require the request tag rds-snapshot-dr:drill = orders."
  }

  # Issue 19, finding 7: rds:PubliclyAccessible exists for RestoreDBInstanceFromDBSnapshot and CreateDBInstance
  # only (Service Authorization Reference); where it exists, a drill instance must be created private.
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.drill[0].statement :
      length(s.condition) == (contains(["RestoreDrillInstances", "CreateDrillWriters"], s.sid) ? 2 : 1) &&
      length([
        for c in s.condition : c
        if c.test == "Bool" && c.variable == "rds:PubliclyAccessible" && toset(c.values) == toset(["false"])
      ]) == (contains(["RestoreDrillInstances", "CreateDrillWriters"], s.sid) ? 1 : 0)
      if contains(["RestoreDrillInstances", "RestoreDrillClusters", "CreateDrillWriters", "TagDrillDatabases"], s.sid)
    ])
    error_message = "RestoreDrillInstances and CreateDrillWriters must require rds:PubliclyAccessible = false (Bool), and no statement whose action lacks the key may name it."
  }

  assert {
    condition = length([
      for s in data.aws_iam_policy_document.drill[0].statement : s
      if s.sid == "RestoreDrillInstances" && toset(s.actions) == toset(["rds:RestoreDBInstanceFromDBSnapshot"]) &&
      toset(s.resources) == toset([
        "arn:aws:rds:eu-central-1:123456789012:db:drill-orders-????????????",
        "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*",
        "arn:aws:rds:eu-central-1:123456789012:subgrp:default",
        "arn:aws:rds:eu-central-1:123456789012:og:default:*",
        "arn:aws:rds:eu-central-1:123456789012:pg:default.*",
      ])
      ]) == 1 && length([
      for s in data.aws_iam_policy_document.drill[0].statement : s
      if s.sid == "RestoreDrillClusters" && toset(s.actions) == toset(["rds:RestoreDBClusterFromSnapshot"]) &&
      toset(s.resources) == toset([
        "arn:aws:rds:eu-central-1:123456789012:cluster:drill-orders-????????????",
        "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*",
        "arn:aws:rds:eu-central-1:123456789012:subgrp:default",
        "arn:aws:rds:eu-central-1:123456789012:og:default:*",
        "arn:aws:rds:eu-central-1:123456789012:cluster-pg:default.*",
      ])
      ]) == 1 && length([
      for s in data.aws_iam_policy_document.drill[0].statement : s
      if s.sid == "CreateDrillWriters" && toset(s.actions) == toset(["rds:CreateDBInstance"]) &&
      toset(s.resources) == toset([
        "arn:aws:rds:eu-central-1:123456789012:db:drill-orders-????????????-w",
        "arn:aws:rds:eu-central-1:123456789012:cluster:drill-orders-????????????",
        "arn:aws:rds:eu-central-1:123456789012:subgrp:default",
        "arn:aws:rds:eu-central-1:123456789012:og:default:*",
        "arn:aws:rds:eu-central-1:123456789012:pg:default.*",
      ])
    ]) == 1
    error_message = "Each restore may name only the drill's names, this instance's DR copies of its kind, and (none configured) the default subnet group and the engine's default option and parameter groups."
  }

  # Issue 19, finding 6: the patterns match the names the drill gives and nothing else: not a person's
  # drill-orders-reporting, not the drill databases of a module instance whose name starts with "orders-".
  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.drill[0].statement : [
        for r in s.resources : [
          for other in [
            "drill-orders-reporting", "drill-orders-202611251400-reader", "drill-orders-2026112514000",
            "drill-orders-reporting-202611251400", "drill-orders-reporting-202611251400-w",
            "drill-orders-1-202611251400", "drill-orders-1-202611251400-w", "drill-orders-20-202611251400-w",
            "drill-orders-2026-202611251400", "drill-orders-20261125140-202611251400-w",
          ] : !can(regex("^${replace(replace(r, "?", "."), "*", ".*")}$", "arn:aws:rds:eu-central-1:123456789012:db:${other}"))
          && !can(regex("^${replace(replace(r, "?", "."), "*", ".*")}$", "arn:aws:rds:eu-central-1:123456789012:cluster:${other}"))
        ]
      ] if s.sid != "SeeDrillDatabases"
    ]))
    error_message = "No drill statement but the read-only listing may match a database name the drill does not give (drill-orders-reporting, or another instance's drill names)."
  }

  assert {
    condition = length([
      for s in data.aws_iam_policy_document.drill[0].statement : s
      if s.sid == "TagDrillDatabases" && toset(s.resources) == toset([
        "arn:aws:rds:eu-central-1:123456789012:db:drill-orders-????????????",
        "arn:aws:rds:eu-central-1:123456789012:db:drill-orders-????????????-w",
        "arn:aws:rds:eu-central-1:123456789012:cluster:drill-orders-????????????",
      ])
    ]) == 1
    error_message = "The role may tag only the names the drill gives."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.drill[0].statement : alltrue([for r in s.resources : !strcontains(r, ":secgrp:")])
    ])
    error_message = "No drill statement may name DB security groups (EC2-Classic): no drill uses one."
  }

  assert {
    condition = length([
      for s in data.aws_iam_policy_document.drill[0].statement : s
      if s.sid == "DeleteDrillInstances" && toset(s.actions) == toset(["rds:DeleteDBInstance"]) &&
      toset(s.resources) == toset([
        "arn:aws:rds:eu-central-1:123456789012:db:drill-orders-????????????",
        "arn:aws:rds:eu-central-1:123456789012:db:drill-orders-????????????-w",
      ]) &&
      length(s.condition) == 1 && alltrue([
        for c in s.condition : c.test == "StringEquals" && c.variable == "rds:db-tag/rds-snapshot-dr:drill" && toset(c.values) == toset(["orders"])
      ])
    ]) == 1
    error_message = "The role may delete only DB instances named drill-orders-<12 characters> (or its writer's -w) that carry rds-snapshot-dr:drill = orders."
  }

  assert {
    condition = length([
      for s in data.aws_iam_policy_document.drill[0].statement : s
      if s.sid == "DeleteDrillClusters" && toset(s.actions) == toset(["rds:DeleteDBCluster"]) &&
      toset(s.resources) == toset(["arn:aws:rds:eu-central-1:123456789012:cluster:drill-orders-????????????"]) &&
      length(s.condition) == 1 && alltrue([
        for c in s.condition : c.test == "StringEquals" && c.variable == "rds:cluster-tag/rds-snapshot-dr:drill" && toset(c.values) == toset(["orders"])
      ])
    ]) == 1
    error_message = "The role may delete only DB clusters named drill-orders-<12 characters> that carry rds-snapshot-dr:drill = orders."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.drill[0].statement : [
        for a in s.actions : !startswith(a, "rds:Delete") || startswith(s.sid, "DeleteDrill")
      ]
    ]))
    error_message = "No other drill statement may delete anything."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.drill[0].statement : alltrue([
        for r in s.resources : !can(regex(":(db|cluster):", r)) || strcontains(r, ":db:drill-orders-") || strcontains(r, ":cluster:drill-orders-")
      ]) if s.sid != "SeeDrillDatabases"
    ])
    error_message = "Every drill statement that names a database must name only drill databases (but the read-only listing)."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.drill[0].statement : alltrue([
        for a in s.actions : startswith(a, "rds:Describe")
      ]) if s.sid == "SeeDrillDatabases"
    ])
    error_message = "The drill's listing of the DR region's databases must be read-only."
  }

  assert {
    condition     = aws_iam_role_policy.drill[0].role == aws_iam_role.lambda[0].id
    error_message = "The drill policy must be attached to the function's role."
  }
}

# Issue 19, finding 7: with groups configured, the drill may restore only into them (the drill's subnet group
# before restore's); a cluster restore names no option group, so only the engine's default one.
run "drill_restores_only_into_the_configured_groups" {
  command = plan

  variables {
    restore = {
      db_subnet_group_name            = "dr-private"
      db_parameter_group_name         = "dr-params"
      db_cluster_parameter_group_name = "dr-cluster-params"
      option_group_name               = "dr-options"
    }
    restore_drill = {
      db_subnet_group_name = "drill-net"
    }
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.drill[0].statement : s.sid => sort([
        for r in s.resources : r if can(regex(":(subgrp|og|pg|cluster-pg):", r))
      ]) if contains(["RestoreDrillInstances", "RestoreDrillClusters", "CreateDrillWriters"], s.sid)
      } == {
      RestoreDrillInstances = sort([
        "arn:aws:rds:eu-central-1:123456789012:subgrp:drill-net",
        "arn:aws:rds:eu-central-1:123456789012:og:dr-options",
        "arn:aws:rds:eu-central-1:123456789012:pg:dr-params",
      ])
      RestoreDrillClusters = sort([
        "arn:aws:rds:eu-central-1:123456789012:subgrp:drill-net",
        "arn:aws:rds:eu-central-1:123456789012:og:default:*",
        "arn:aws:rds:eu-central-1:123456789012:cluster-pg:dr-cluster-params",
      ])
      CreateDrillWriters = sort([
        "arn:aws:rds:eu-central-1:123456789012:subgrp:drill-net",
        "arn:aws:rds:eu-central-1:123456789012:og:default:*",
        "arn:aws:rds:eu-central-1:123456789012:pg:dr-params",
      ])
    }
    error_message = "The drill's restores may name only the drill's subnet group and the configured parameter and option groups."
  }
}

run "drill_schedule_must_be_rate_or_cron" {
  command = plan
  variables {
    restore_drill = { schedule_expression = "every sunday" }
  }
  expect_failures = [var.restore_drill]
}

run "drill_databases_must_be_identifiers" {
  command = plan
  variables {
    restore_drill = { databases = ["Orders_DB"] }
  }
  expect_failures = [var.restore_drill]
}

run "drill_instance_class_must_be_a_class" {
  command = plan
  variables {
    restore_drill = { instance_class = "t4g.medium" }
  }
  expect_failures = [var.restore_drill]
}

run "drill_security_groups_must_be_ids" {
  command = plan
  variables {
    restore_drill = { vpc_security_group_ids = ["default"] }
  }
  expect_failures = [var.restore_drill]
}

run "drill_lifetime_is_bounded" {
  command = plan
  variables {
    restore_drill = { max_lifetime_minutes = 10 }
  }
  expect_failures = [var.restore_drill]
}

run "drill_overdue_days_are_bounded" {
  command = plan
  variables {
    restore_drill = { overdue_days = 0 }
  }
  expect_failures = [var.restore_drill]
}

run "restore_security_groups_must_be_ids" {
  command = plan
  variables {
    restore = { vpc_security_group_ids = ["sg-x"] }
  }
  expect_failures = [var.restore]
}

run "restore_group_names_are_checked" {
  command = plan
  variables {
    restore = { db_subnet_group_name = "-bad" }
  }
  expect_failures = [var.restore]
}
