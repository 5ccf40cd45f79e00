################################################################################
# What invokes the function: the schedules and the RDS "snapshot created" rule
################################################################################

locals {
  # Scheduler substitutes <aws.scheduler.scheduled-time> in the input text. jsonencode writes "<" and
  # ">" as \u003c / \u003e, which Scheduler would not recognise, so they are put back.
  backup_input = replace(replace(jsonencode({
    action         = "backup"
    scheduled_time = "<aws.scheduler.scheduled-time>"
  }), "\\u003c", "<"), "\\u003e", ">")

  reconcile_input    = jsonencode({ action = "reconcile" })
  copy_waiting_input = jsonencode({ action = "copy-waiting" })
}

resource "aws_scheduler_schedule_group" "this" {
  count = local.create ? 1 : 0

  name = local.name
  tags = local.tags
}

data "aws_iam_policy_document" "scheduler_assume_role" {
  count = local.create ? 1 : 0

  statement {
    sid     = "SchedulerAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Only this instance's schedules, in this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_scheduler_schedule_group.this[0].arn]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = local.create ? 1 : 0

  name                 = "${local.name}-scheduler"
  description          = "rds-snapshot-dr ${var.name}: lets EventBridge Scheduler invoke the function."
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume_role[0].json
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = local.tags
}

data "aws_iam_policy_document" "scheduler" {
  count = local.create ? 1 : 0

  statement {
    sid       = "InvokeFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arn]
  }

  statement {
    sid       = "SendToDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter[0].arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.create ? 1 : 0

  name   = "${local.name}-scheduler"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}

resource "aws_scheduler_schedule" "backup" {
  count = local.create ? 1 : 0

  #checkov:skip=CKV_AWS_297:The schedule's input is {"action":"backup"} and a timestamp, nothing secret; Scheduler encrypts it with an AWS owned key.
  name        = "${local.name}-backup"
  group_name  = aws_scheduler_schedule_group.this[0].name
  description = "rds-snapshot-dr ${var.name}: start a snapshot of every target."

  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  # The snapshot name comes from the scheduled time, so the schedule must fire at that time.
  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this[0].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = local.backup_input

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter[0].arn
    }
  }
}

resource "aws_scheduler_schedule" "reconcile" {
  count = local.create ? 1 : 0

  #checkov:skip=CKV_AWS_297:The schedule's input is {"action":"reconcile"}, nothing secret; Scheduler encrypts it with an AWS owned key.
  name        = "${local.name}-reconcile"
  group_name  = aws_scheduler_schedule_group.this[0].name
  description = "rds-snapshot-dr ${var.name}: copy what is missing, prune, publish the recovery-point age."

  schedule_expression          = var.reconcile_schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this[0].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = local.reconcile_input

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter[0].arn
    }
  }
}

# Between reconciles, fill the copy slots that copies have freed: RDS sends no event when a cluster
# snapshot copy finishes, and its instance copy events (events.tf) are best effort. The function switches
# this schedule on while copies wait (the backup run, a reconcile that finds some) and off when none do (a
# run of its own), so it runs for hours a day, not all day: Terraform leaves its state to the function.
resource "aws_scheduler_schedule" "copy_waiting" {
  count = local.create && var.copy_waiting_schedule_expression != null ? 1 : 0

  #checkov:skip=CKV_AWS_297:The schedule's input is {"action":"copy-waiting"}, nothing secret; Scheduler encrypts it with an AWS owned key.
  name        = "${local.name}-copy-waiting"
  group_name  = aws_scheduler_schedule_group.this[0].name
  description = "rds-snapshot-dr ${var.name}: start the cross-region copies that wait for a free copy slot."

  schedule_expression          = var.copy_waiting_schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this[0].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = local.copy_waiting_input

    # Scheduler hands each run to Lambda's asynchronous queue; a hand-off that fails is not retried,
    # because the next run follows within minutes (it still goes to the dead-letter queue, so a
    # lasting fault is seen). Once Lambda accepts a run, the function's asynchronous settings apply
    # (lambda.tf), and the function does not fail a run for a failed copy (its metric reports it).
    retry_policy {
      maximum_event_age_in_seconds = 300
      maximum_retry_attempts       = 0
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter[0].arn
    }
  }

  lifecycle {
    ignore_changes = [state] # the function's to switch
  }
}

# RDS publishes "manual snapshot created" for instances (RDS-EVENT-0042) and clusters
# (RDS-EVENT-0075); the rule only passes this instance's snapshots on, so their copy starts at once.
# RDS delivers these events on a best-effort basis: the reconcile schedule catches any lost one.
resource "aws_cloudwatch_event_rule" "snapshot_created" {
  count = local.create ? 1 : 0

  name        = "${local.name}-snapshots"
  description = "rds-snapshot-dr ${var.name}: a snapshot named ${local.snapshot_prefix}-* is available; copy it to ${local.destination_region}."

  event_pattern = jsonencode({
    source      = ["aws.rds"]
    detail-type = ["RDS DB Snapshot Event", "RDS DB Cluster Snapshot Event"]
    detail = {
      EventID          = ["RDS-EVENT-0042", "RDS-EVENT-0075"]
      SourceIdentifier = [{ prefix = "${local.snapshot_prefix}-" }]
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "snapshot_created" {
  count = local.create ? 1 : 0

  rule      = aws_cloudwatch_event_rule.snapshot_created[0].name
  target_id = "rds-snapshot-dr"
  arn       = aws_lambda_function.this[0].arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 3
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter[0].arn
  }
}

resource "aws_lambda_permission" "snapshot_created" {
  count = local.create ? 1 : 0

  statement_id  = "AllowSnapshotCreatedRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.snapshot_created[0].arn
}
