# Plan-level behaviour of the module with its defaults: the function's settings, its IAM policy,
# schedules, event rule and alarms.

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

run "environment_is_the_engine_settings_contract" {
  command = plan

  assert {
    condition = toset(keys(aws_lambda_function.this[0].environment[0].variables)) == toset([
      "SOURCE_REGION", "DESTINATION_REGION", "DESTINATION_KMS_KEY_ARN", "SNAPSHOT_PREFIX",
      "OWNER_TAG_KEY", "OWNER_TAG_VALUE", "DB_INSTANCE_IDENTIFIERS", "DB_CLUSTER_IDENTIFIERS",
      "SELECTION_TAGS", "SNAPSHOT_TAGS", "SOURCE_RETENTION_DAYS", "DESTINATION_RETENTION_DAYS",
      "KEEP_LAST", "COPY_CONCURRENCY_LIMIT", "COPY_MAX_ATTEMPTS", "METRICS_NAMESPACE", "TIME_BUDGET_RESERVE_MS",
      "BOTO_MAX_ATTEMPTS", "BOTO_RETRY_MODE", "LOG_LEVEL", "BACKUP_SCHEDULE_EXPRESSION",
      "BACKUP_SCHEDULE_TIMEZONE", "RDS_API_REQUESTS_PER_SECOND", "RDS_API_CONCURRENT_INVOCATIONS",
      "COPY_WAITING_SCHEDULE_ARN", "SNAPSHOT_QUOTA_ALARM_THRESHOLD", "OPTION_GROUP_MAPPING",
    ])
    error_message = "The function's environment must hold exactly the variables of the engine's settings contract."
  }

  assert {
    condition = aws_lambda_function.this[0].environment[0].variables == tomap({
      SOURCE_REGION              = "eu-west-1"
      DESTINATION_REGION         = "eu-central-1"
      DESTINATION_KMS_KEY_ARN    = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000002"
      SNAPSHOT_PREFIX            = "dr6-orders"
      OWNER_TAG_KEY              = "rds-snapshot-dr:owner"
      OWNER_TAG_VALUE            = "orders"
      DB_INSTANCE_IDENTIFIERS    = "orders-db"
      DB_CLUSTER_IDENTIFIERS     = "inventory-aurora"
      SELECTION_TAGS             = "{}"
      SNAPSHOT_TAGS              = "{}"
      OPTION_GROUP_MAPPING       = "{}"
      SOURCE_RETENTION_DAYS      = "2"
      DESTINATION_RETENTION_DAYS = "14"
      KEEP_LAST                  = "1"
      COPY_CONCURRENCY_LIMIT     = "5"
      COPY_MAX_ATTEMPTS          = "3"
      METRICS_NAMESPACE          = "RdsSnapshotDr"
      TIME_BUDGET_RESERVE_MS     = "30000"
      BOTO_MAX_ATTEMPTS          = "5"
      BOTO_RETRY_MODE            = "standard"
      LOG_LEVEL                  = "INFO"
      # the backup schedule, for the steady-state snapshot count
      BACKUP_SCHEDULE_EXPRESSION = "cron(0 3 * * ? *)"
      # and its time zone, so reconcile knows which round was due
      BACKUP_SCHEDULE_TIMEZONE = "UTC"
      # the copy-waiting schedule the function switches on while copies wait and off when none do
      COPY_WAITING_SCHEDULE_ARN = "arn:aws:scheduler:eu-west-1:123456789012:schedule/orders-rds-snapshot-dr/orders-rds-snapshot-dr-copy-waiting"
      # a third of the account's sustained 12 requests/s, shared by the 2 reserved invocations
      RDS_API_REQUESTS_PER_SECOND    = "4"
      RDS_API_CONCURRENT_INVOCATIONS = "2"
      # preflight warns where the quota alarm fires
      SNAPSHOT_QUOTA_ALARM_THRESHOLD = "80"
    })
    error_message = "The function's environment must carry the module's defaults, the regions of both providers and the created key."
  }

  assert {
    condition     = aws_lambda_function.this[0].handler == "rds_snapshot_dr.handler.lambda_handler" && startswith(aws_lambda_function.this[0].runtime, "python3.1")
    error_message = "The function must run the engine's handler on a Python 3.12+ runtime."
  }

  assert {
    condition     = aws_lambda_function.this[0].logging_config[0].log_format == "JSON" && aws_lambda_function.this[0].tracing_config[0].mode == "Active"
    error_message = "The function must log JSON and trace with X-Ray by default."
  }

  assert {
    condition     = aws_lambda_function.this[0].dead_letter_config[0].target_arn == aws_sqs_queue.dead_letter[0].arn && aws_sqs_queue.dead_letter[0].sqs_managed_sse_enabled
    error_message = "The function's dead letters must go to the encrypted queue."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.this[0].maximum_retry_attempts <= 2 && aws_lambda_function_event_invoke_config.this[0].maximum_event_age_in_seconds <= 21600
    error_message = "Asynchronous retries and event age must be bounded."
  }

  assert {
    condition     = aws_cloudwatch_log_group.lambda[0].retention_in_days == 365 && aws_cloudwatch_log_group.lambda[0].name == "/aws/lambda/orders-rds-snapshot-dr"
    error_message = "The log group must be the function's own, with retention."
  }
}

run "different_settings_reach_the_environment" {
  command = plan

  variables {
    selection_tags         = { dr-tier = "gold" }
    snapshot_tags          = { team = "payments" }
    snapshot_prefix        = "nightly"
    retention              = { source_days = 3, destination_days = 30, keep_last = 2 }
    copy_concurrency_limit = 10
    aws_api_retry_mode     = "adaptive"
    log_level              = "DEBUG"
    tracing_enabled        = false
  }

  assert {
    condition     = aws_lambda_function.this[0].environment[0].variables["SELECTION_TAGS"] == "{\"dr-tier\":\"gold\"}" && aws_lambda_function.this[0].environment[0].variables["SNAPSHOT_TAGS"] == "{\"team\":\"payments\"}"
    error_message = "Tags must reach the function as JSON objects."
  }

  assert {
    condition = (
      aws_lambda_function.this[0].environment[0].variables["SNAPSHOT_PREFIX"] == "nightly" &&
      aws_lambda_function.this[0].environment[0].variables["SOURCE_RETENTION_DAYS"] == "3" &&
      aws_lambda_function.this[0].environment[0].variables["DESTINATION_RETENTION_DAYS"] == "30" &&
      aws_lambda_function.this[0].environment[0].variables["KEEP_LAST"] == "2" &&
      aws_lambda_function.this[0].environment[0].variables["COPY_CONCURRENCY_LIMIT"] == "10" &&
      aws_lambda_function.this[0].environment[0].variables["BOTO_RETRY_MODE"] == "adaptive" &&
      aws_lambda_function.this[0].environment[0].variables["LOG_LEVEL"] == "DEBUG"
    )
    error_message = "Every setting must reach the function's environment as given."
  }

  assert {
    condition     = aws_lambda_function.this[0].tracing_config[0].mode == "PassThrough" && !contains([for s in data.aws_iam_policy_document.lambda[0].statement : s.sid], "WriteTraces")
    error_message = "With tracing off, the function neither traces nor may write traces."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.snapshot_created[0].event_pattern).detail.SourceIdentifier == [{ prefix = "nightly-" }]
    error_message = "The event rule must only pass snapshots with this instance's prefix."
  }

  assert {
    condition = contains(
      one([for s in data.aws_iam_policy_document.lambda[0].statement : s.resources if s.sid == "SnapshotTaggedInstances"]),
      "arn:aws:rds:eu-west-1:123456789012:db:*"
    )
    error_message = "With tag selection the databases are found at run time, so CreateDBSnapshot must cover the region's instances."
  }
}

run "schedules_and_event_rule" {
  command = plan

  assert {
    condition     = jsondecode(aws_scheduler_schedule.backup[0].target[0].input) == { action = "backup", scheduled_time = "<aws.scheduler.scheduled-time>" } && strcontains(aws_scheduler_schedule.backup[0].target[0].input, "<aws.scheduler.scheduled-time>")
    error_message = "The backup schedule must pass the scheduled time placeholder literally, for Scheduler to substitute."
  }

  assert {
    condition     = aws_scheduler_schedule.backup[0].schedule_expression == "cron(0 3 * * ? *)" && aws_scheduler_schedule.backup[0].schedule_expression_timezone == "UTC" && aws_scheduler_schedule.backup[0].flexible_time_window[0].mode == "OFF"
    error_message = "Backups run daily at 03:00 UTC by default, at the exact scheduled time."
  }

  assert {
    condition     = jsondecode(aws_scheduler_schedule.reconcile[0].target[0].input) == { action = "reconcile" } && aws_scheduler_schedule.reconcile[0].schedule_expression == "rate(1 hour)"
    error_message = "Reconcile runs hourly by default."
  }

  assert {
    condition     = aws_scheduler_schedule.backup[0].target[0].retry_policy[0].maximum_retry_attempts > 0 && aws_scheduler_schedule.reconcile[0].target[0].retry_policy[0].maximum_retry_attempts > 0
    error_message = "Both schedules must retry."
  }

  assert {
    condition     = jsondecode(aws_scheduler_schedule.copy_waiting[0].target[0].input) == { action = "copy-waiting" } && aws_scheduler_schedule.copy_waiting[0].schedule_expression == "rate(5 minutes)" && aws_scheduler_schedule.copy_waiting[0].target[0].retry_policy[0].maximum_retry_attempts == 0
    error_message = "Waiting copies are started every 5 minutes by default; a missed run is not retried (the next one follows)."
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.snapshot_created[0].event_pattern) == {
      source        = ["aws.rds"]
      "detail-type" = ["RDS DB Snapshot Event", "RDS DB Cluster Snapshot Event"]
      detail = {
        EventID          = ["RDS-EVENT-0042", "RDS-EVENT-0075"]
        SourceIdentifier = [{ prefix = "dr6-orders-" }]
      }
    }
    error_message = "The event rule must match the contract's pattern."
  }

  assert {
    condition     = aws_lambda_permission.snapshot_created[0].source_arn == aws_cloudwatch_event_rule.snapshot_created[0].arn && aws_lambda_permission.snapshot_created[0].principal == "events.amazonaws.com"
    error_message = "Only the event rule may invoke the function through EventBridge."
  }

  assert {
    # The policy names the function by an ARN built at plan (so it never shows "known after apply"):
    # it must be exactly the ARN Lambda gives a function of that name in this region and account.
    condition     = toset(one([for s in data.aws_iam_policy_document.scheduler[0].statement : s.resources if s.sid == "InvokeFunction"])) == toset(["arn:aws:lambda:eu-west-1:123456789012:function:${aws_lambda_function.this[0].function_name}"])
    error_message = "The scheduler role may only invoke this function."
  }
}

run "alarms_and_created_topic" {
  command = plan

  variables {
    alarm_email_addresses = ["dba@example.com"]
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && aws_sns_topic.alarms[0].kms_master_key_id == aws_kms_key.alarms[0].arn && aws_kms_key.alarms[0].enable_key_rotation
    error_message = "A created topic must be encrypted with its own rotating key."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.alarms_key[0].statement :
      contains(flatten([for p in s.principals : p.identifiers]), "cloudwatch.amazonaws.com") && contains(s.actions, "kms:GenerateDataKey*") && contains(s.actions, "kms:Decrypt")
    ])
    error_message = "CloudWatch must be allowed to use the topic's key."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.recovery_point_age[0].treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.recovery_point_age[0].threshold == 30 * 3600 && aws_cloudwatch_metric_alarm.recovery_point_age[0].period == 3600
    error_message = "The recovery-point alarm treats silence as breaching, in hours converted to seconds, over the reconcile interval."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.target_failures[0].namespace == "RdsSnapshotDr" && aws_cloudwatch_metric_alarm.target_failures[0].dimensions == tomap({ ModuleInstance = "orders" })
    error_message = "The engine's metrics are read from its namespace and ModuleInstance dimension."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dead_letters[0].metric_name == "ApproximateNumberOfMessagesVisible" && aws_cloudwatch_metric_alarm.function_errors[0].metric_name == "Errors"
    error_message = "Dead letters and function errors are alarmed."
  }

  assert {
    condition = alltrue([
      for alarm in [
        aws_cloudwatch_metric_alarm.function_errors[0], aws_cloudwatch_metric_alarm.target_failures[0],
        aws_cloudwatch_metric_alarm.recovery_point_age[0], aws_cloudwatch_metric_alarm.dead_letters[0],
        aws_cloudwatch_metric_alarm.snapshot_quota[0],
      ] : alarm.alarm_actions == toset([aws_sns_topic.alarms[0].arn])
    ])
    error_message = "Every alarm notifies the topic."
  }

  assert {
    condition     = aws_sns_topic_subscription.email["dba@example.com"].protocol == "email"
    error_message = "Email addresses are subscribed to the topic."
  }
}

run "existing_topic_replaces_the_created_one" {
  command = plan

  variables {
    create_sns_topic              = false
    sns_topic_arn                 = "arn:aws:sns:eu-west-1:123456789012:platform-alerts"
    reconcile_schedule_expression = "rate(30 minutes)"
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && length(aws_kms_key.alarms) == 0 && output.sns_topic_arn == "arn:aws:sns:eu-west-1:123456789012:platform-alerts"
    error_message = "With create_sns_topic = false, no topic or key is created and the alarms use the given topic."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.recovery_point_age[0].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:platform-alerts"]) && aws_cloudwatch_metric_alarm.recovery_point_age[0].period == 1800
    error_message = "Alarms notify the given topic; the recovery-point period follows the reconcile rate."
  }
}

run "tags_reach_taggable_resources" {
  command = plan

  variables {
    tags = { cost-center = "42" }
  }

  assert {
    condition = alltrue([
      for tags in [
        aws_lambda_function.this[0].tags, aws_iam_role.lambda[0].tags, aws_iam_role.scheduler[0].tags,
        aws_cloudwatch_log_group.lambda[0].tags, aws_sqs_queue.dead_letter[0].tags, aws_sns_topic.alarms[0].tags,
        aws_kms_key.alarms[0].tags, aws_cloudwatch_event_rule.snapshot_created[0].tags,
        aws_scheduler_schedule_group.this[0].tags, aws_cloudwatch_metric_alarm.recovery_point_age[0].tags,
      ] : tags["cost-center"] == "42" && tags["rds-snapshot-dr:instance"] == "orders"
    ])
    error_message = "The tags must reach every taggable resource."
  }
}

run "outputs" {
  command = plan

  assert {
    condition     = output.manual_invoke_commands["preflight"] == "aws lambda invoke --region eu-west-1 --function-name orders-rds-snapshot-dr --cli-binary-format raw-in-base64-out --payload '{\"action\":\"preflight\"}' response.json"
    error_message = "The preflight command must be ready to paste."
  }

  assert {
    condition     = toset(keys(output.alarm_arns)) == toset(["function_errors", "target_failures", "recovery_point_age", "snapshot_quota", "dead_letters"]) && toset(keys(output.schedule_arns)) == toset(["backup", "reconcile", "copy_waiting"])
    error_message = "Alarm and schedule ARNs are output by purpose."
  }
}

run "module_version_is_the_release_in_the_version_file" {
  command = plan

  assert {
    condition     = output.module_version == trimspace(file("VERSION")) && can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+", output.module_version))
    error_message = "module_version must be the semantic version in the VERSION file."
  }

  assert {
    condition     = startswith(aws_lambda_function.this[0].description, "rds-snapshot-dr ${output.module_version} orders:")
    error_message = "The function's description names the release, so the console shows which version runs."
  }
}
