################################################################################
# Copy slots kept busy: a finished (or failed) cross-region copy invokes the function
#
# RDS announces the end of a cross-region DB snapshot copy in the DESTINATION region
# (RDS User Guide, "Amazon RDS event categories and event messages", DB snapshot events:
# RDS-EVENT-0060 "Finished copy of snapshot ... from region ...", RDS-EVENT-0061 "Canceled
# snapshot copy request of ... from region ..."; the DB cluster snapshot events list no copy
# events, so cluster copies are refilled by reconcile). An EventBridge rule may only target a
# Lambda function in its own region, so the destination rule forwards these events to the source
# region's default event bus (EventBridge User Guide, "Sending and receiving events between AWS
# Regions"), where a second rule invokes the function.
################################################################################

locals {
  copy_finished_detail = {
    EventID          = ["RDS-EVENT-0060", "RDS-EVENT-0061"]
    SourceIdentifier = [{ prefix = "${local.snapshot_prefix}-" }]
  }
  source_event_bus_arn = "arn:${local.partition}:events:${local.source_region}:${local.account_id}:event-bus/default"
}

resource "aws_cloudwatch_event_rule" "copy_finished_destination" {
  count = local.create ? 1 : 0

  provider = aws.destination

  name        = "${local.name}-copies"
  description = "rds-snapshot-dr ${var.name}: a copy named ${local.snapshot_prefix}-* finished or failed in ${local.destination_region}; forward it to ${local.source_region}, where the function starts the next waiting copy."

  event_pattern = jsonencode({
    source      = ["aws.rds"]
    detail-type = ["RDS DB Snapshot Event"]
    detail      = local.copy_finished_detail
  })

  tags = local.tags
}

data "aws_iam_policy_document" "copy_events_assume_role" {
  count = local.create ? 1 : 0

  statement {
    sid     = "EventBridgeAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    # Only this instance's forwarding rule, in this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.copy_finished_destination[0].arn]
    }
  }
}

resource "aws_iam_role" "copy_events" {
  count = local.create ? 1 : 0

  name                 = "${local.name}-copy-events"
  description          = "rds-snapshot-dr ${var.name}: lets EventBridge in ${local.destination_region} forward finished-copy events to the default event bus of ${local.source_region}."
  assume_role_policy   = data.aws_iam_policy_document.copy_events_assume_role[0].json
  permissions_boundary = var.iam_role_permissions_boundary
  path                 = var.iam_role_path
  tags                 = local.tags
}

data "aws_iam_policy_document" "copy_events" {
  count = local.create ? 1 : 0

  statement {
    sid       = "ForwardCopyEventsToSourceRegion"
    actions   = ["events:PutEvents"]
    resources = [local.source_event_bus_arn]
  }
}

resource "aws_iam_role_policy" "copy_events" {
  count = local.create ? 1 : 0

  name   = "${local.name}-copy-events"
  role   = aws_iam_role.copy_events[0].id
  policy = data.aws_iam_policy_document.copy_events[0].json
}

resource "aws_cloudwatch_event_target" "copy_finished_forward" {
  count = local.create ? 1 : 0

  provider = aws.destination

  rule      = aws_cloudwatch_event_rule.copy_finished_destination[0].name
  target_id = "source-region-bus"
  arn       = local.source_event_bus_arn
  role_arn  = aws_iam_role.copy_events[0].arn

  # Nothing forwards events before the ARN checks pass (a wrong-region key stops the apply first).
  depends_on = [terraform_data.input_checks]
}

# In the source region: the forwarded events keep source "aws.rds" and their own region.
resource "aws_cloudwatch_event_rule" "copy_finished" {
  count = local.create ? 1 : 0

  name        = "${local.name}-copies-done"
  description = "rds-snapshot-dr ${var.name}: a copy named ${local.snapshot_prefix}-* finished or failed in ${local.destination_region}; start the next waiting copy."

  event_pattern = jsonencode({
    source      = ["aws.rds"]
    detail-type = ["RDS DB Snapshot Event"]
    region      = [local.destination_region]
    detail      = local.copy_finished_detail
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "copy_finished" {
  count = local.create ? 1 : 0

  rule      = aws_cloudwatch_event_rule.copy_finished[0].name
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

resource "aws_lambda_permission" "copy_finished" {
  count = local.create ? 1 : 0

  statement_id  = "AllowCopyFinishedRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.copy_finished[0].arn
}
