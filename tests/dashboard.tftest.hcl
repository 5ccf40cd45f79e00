# The operators' dashboard at plan: a valid JSON body that shows exactly the metrics the module
# declares in local.dashboard_metrics (tests/unit/test_dashboard.py ties those to what the function
# publishes), under the configured namespace and this instance's dimensions, with the RPO line.

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
  rpo_alarm_threshold     = 26
}

run "dashboard_shows_exactly_the_declared_metrics" {
  command = plan

  variables {
    metrics_namespace = "Platform/RdsDr"
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 1 && aws_cloudwatch_dashboard.this[0].dashboard_name == "orders-rds-snapshot-dr"
    error_message = "create_dashboard defaults to true: one dashboard named like the function."
  }

  assert {
    condition     = can(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].type)
    error_message = "The dashboard body must be valid JSON with widgets."
  }

  # Every metric line in the body (metric-math expressions aside) as "namespace|name|dimension=value,...",
  # against the declared metrics: nothing more, nothing less.
  assert {
    condition = toset(flatten([
      for widget in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for line in try(widget.properties.metrics, []) : format("%s|%s|%s", line[0], line[1], join(",", [
          for i in range(2, length(line) - 1, 2) : "${line[i]}=${line[i + 1]}" if can(tostring(line[i])) && can(tostring(line[i + 1]))
        ])) if can(tostring(line[0]))
      ]
      ])) == toset([
      for metric in local.dashboard_metrics : format("%s|%s|%s", metric.namespace, metric.name, join(",", [
        for dimension in sort(keys(metric.dimensions)) : "${dimension}=${metric.dimensions[dimension]}"
      ]))
    ])
    error_message = "The dashboard must show exactly the metrics of local.dashboard_metrics, with their dimensions."
  }

  assert {
    condition = alltrue([
      for metric in local.dashboard_metrics : contains(["Platform/RdsDr", "AWS/Lambda", "AWS/SQS"], metric.namespace)
    ]) && length([for metric in local.dashboard_metrics : metric if metric.namespace == "Platform/RdsDr"]) == 14
    error_message = "The function's metrics are read from metrics_namespace; only Lambda errors and dead letters come from AWS namespaces."
  }

  assert {
    condition = alltrue([
      for metric in local.dashboard_metrics : lookup(metric.dimensions, "ModuleInstance", "orders") == "orders"
    ])
    error_message = "Every per-instance metric is this instance's (ModuleInstance = name)."
  }

  assert {
    condition = toset([
      for metric in local.dashboard_metrics : "${metric.dimensions.Region}/${metric.dimensions.SnapshotKind}" if metric.name == "ManualSnapshotQuotaUsedPercent"
    ]) == toset(["eu-west-1/instance", "eu-west-1/cluster", "eu-central-1/instance", "eu-central-1/cluster"])
    error_message = "Quota use is shown for both regions and both snapshot kinds."
  }

  assert {
    condition = [
      for widget in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for line in try(widget.properties.metrics, []) : try(line[length(line) - 1].stat, widget.properties.stat)
        if can(tostring(line[0])) && try(line[1] == "DrillFailures", false)
      ] if length([for line in try(widget.properties.metrics, []) : line if try(line[1] == "DrillFailures", false)]) > 0
    ] == [["Sum"]]
    error_message = "Failed drills must be summed over the widget's period (stat Sum on the line), not shown as a Maximum."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].properties.annotations.horizontal[0].value == 26
    error_message = "The recovery-point widget draws the RPO line at rpo_alarm_threshold hours."
  }

  assert {
    condition = alltrue([
      for part in ["SOURCE '/aws/lambda/orders-rds-snapshot-dr'", "filter record = \"recovery_point\"", "26 - recovery_point_age_seconds / 3600", "by target, kind"] :
      strcontains(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[1].properties.query, part)
    ])
    error_message = "The per-database widget queries this function's log group for its recovery-point records against the RPO."
  }

  assert {
    condition     = startswith(output.dashboard_arn, "arn:aws:cloudwatch::")
    error_message = "dashboard_arn is the dashboard's ARN."
  }
}

run "dashboard_can_be_turned_off" {
  command = plan

  variables {
    create_dashboard = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_arn == null
    error_message = "create_dashboard = false creates no dashboard and dashboard_arn is null."
  }
}
