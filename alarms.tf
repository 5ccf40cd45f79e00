################################################################################
# Alarms and where they go
################################################################################

locals {
  # What is created follows create_sns_topic, never the value of sns_topic_arn, which may be unknown
  # at plan (a topic created in the same configuration).
  sns_topic_arn = local.create && var.create_sns_topic ? aws_sns_topic.alarms[0].arn : var.sns_topic_arn

  # The recovery-point age is published once per reconcile run, so an alarm period shorter than the
  # reconcile interval would see empty periods, which count as breaching. The period follows a
  # rate() reconcile expression unless set explicitly.
  reconcile_rate_seconds = try(
    tonumber(regex("^rate\\(([0-9]+) ", var.reconcile_schedule_expression)[0]) * lookup({ minute = 60, hour = 3600, day = 86400 }, trimsuffix(regex(" ([a-z]+)\\)$", var.reconcile_schedule_expression)[0], "s")),
    null
  )
  rpo_alarm_period_seconds = coalesce(var.rpo_alarm_period_seconds, local.reconcile_rate_seconds, 3600)

  module_instance_dimension = { ModuleInstance = var.name }
}

# --- Topic (created unless create_sns_topic = false) ----------------------------------------------

# Alarms cannot publish to a topic encrypted with the AWS managed SNS key, so the topic gets a
# customer managed key whose policy lets CloudWatch use it.
data "aws_iam_policy_document" "alarms_key" {
  count = local.create && var.create_sns_topic ? 1 : 0

  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; administration stays with the account.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; CloudWatch may only encrypt for SNS.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself, never other resources.

  statement {
    sid       = "EnableAccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # What CloudWatch needs to publish to an encrypted topic (Amazon SNS Developer Guide, "Key
  # management": compatibility between event sources from AWS services and encrypted topics), only on
  # behalf of this account's alarms: aws:SourceAccount is set when a service principal acts for a
  # resource of an account (IAM User Guide, "AWS global condition context keys"), so CloudWatch acting
  # for another account's alarm cannot use the key. The topic policy below narrows publishing further
  # to this account's alarm ARNs (aws:SourceArn).
  statement {
    sid       = "AllowCloudWatchAlarmsToPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  count = local.create && var.create_sns_topic ? 1 : 0

  description             = "rds-snapshot-dr ${var.name}: encrypts the alarm topic."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alarms_key[0].json
  tags                    = local.tags
}

resource "aws_kms_alias" "alarms" {
  count = local.create && var.create_sns_topic ? 1 : 0

  name          = "alias/${local.name}-alarms"
  target_key_id = aws_kms_key.alarms[0].key_id
}

resource "aws_sns_topic" "alarms" {
  count = local.create && var.create_sns_topic ? 1 : 0

  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms[0].arn
  tags              = local.tags
}

data "aws_iam_policy_document" "alarms_topic" {
  count = local.create && var.create_sns_topic ? 1 : 0

  statement {
    sid = "AccountManagesTopic"
    actions = [
      "sns:AddPermission",
      "sns:DeleteTopic",
      "sns:GetTopicAttributes",
      "sns:ListSubscriptionsByTopic",
      "sns:Publish",
      "sns:RemovePermission",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
    ]
    resources = [aws_sns_topic.alarms[0].arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "AllowCloudWatchAlarmsToPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    # Only alarms of this account.
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.source_region}:${local.account_id}:alarm:*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count = local.create && var.create_sns_topic ? 1 : 0

  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarms_topic[0].json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = local.create ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = local.sns_topic_arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Alarms ---------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  count = local.create ? 1 : 0

  alarm_name        = "${local.name}-function-errors"
  alarm_description = "The rds-snapshot-dr function of ${var.name} failed (an invocation raised: a target failed, a setting is wrong or a permission is missing). Read the function's log for the error and its fix."

  namespace   = "AWS/Lambda"
  metric_name = "Errors"
  dimensions  = { FunctionName = aws_lambda_function.this[0].function_name }
  statistic   = "Sum"
  period      = 300

  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"

  alarm_actions = [local.sns_topic_arn]
  ok_actions    = [local.sns_topic_arn]
  tags          = local.tags
}

resource "aws_cloudwatch_metric_alarm" "target_failures" {
  count = local.create ? 1 : 0

  alarm_name        = "${local.name}-target-failures"
  alarm_description = "rds-snapshot-dr ${var.name}: a snapshot, copy or deletion failed for at least one database, including a cross-region copy that ended failed in the destination (metric CopiesFailed; reported on every reconcile run until it is retried or copy_max_attempts is reached and fixed). The function's log names the database, the reason and the fix."

  namespace   = var.metrics_namespace
  metric_name = "TargetFailures"
  dimensions  = local.module_instance_dimension
  statistic   = "Sum"
  period      = 300

  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"

  alarm_actions = [local.sns_topic_arn]
  ok_actions    = [local.sns_topic_arn]
  tags          = local.tags
}

resource "aws_cloudwatch_metric_alarm" "recovery_point_age" {
  count = local.create ? 1 : 0

  alarm_name        = "${local.name}-recovery-point-age"
  alarm_description = "rds-snapshot-dr ${var.name}: the newest copy of a database in ${local.destination_region} is older than ${var.rpo_alarm_threshold} hours, or the reconcile run stopped reporting. Disaster recovery is not current: run the preflight action."

  namespace   = var.metrics_namespace
  metric_name = "RecoveryPointAgeSeconds"
  dimensions  = local.module_instance_dimension
  statistic   = "Maximum"
  period      = local.rpo_alarm_period_seconds

  comparison_operator = "GreaterThanThreshold"
  threshold           = var.rpo_alarm_threshold * 3600
  evaluation_periods  = 1
  # Silence is an alarm: no data means the reconcile run did not report.
  treat_missing_data = "breaching"

  alarm_actions = [local.sns_topic_arn]
  ok_actions    = [local.sns_topic_arn]
  tags          = local.tags
}

resource "aws_cloudwatch_metric_alarm" "snapshot_quota" {
  count = local.create ? 1 : 0

  alarm_name        = "${local.name}-snapshot-quota"
  alarm_description = "rds-snapshot-dr ${var.name}: manual snapshots use more than ${var.snapshot_quota_alarm_threshold}% of their quota in ${local.source_region} or ${local.destination_region}. Shorten retention, delete unneeded manual snapshots or ask for a higher quota before RDS refuses new snapshots."

  namespace   = var.metrics_namespace
  metric_name = "ManualSnapshotQuotaUsedPercent"
  dimensions  = local.module_instance_dimension
  statistic   = "Maximum"
  period      = local.rpo_alarm_period_seconds

  comparison_operator = "GreaterThanThreshold"
  threshold           = var.snapshot_quota_alarm_threshold
  evaluation_periods  = 1
  # The recovery-point alarm already reports a silent reconcile run.
  treat_missing_data = "notBreaching"

  alarm_actions = [local.sns_topic_arn]
  ok_actions    = [local.sns_topic_arn]
  tags          = local.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  count = local.create ? 1 : 0

  alarm_name        = "${local.name}-dead-letters"
  alarm_description = "rds-snapshot-dr ${var.name}: an event could not be delivered to or processed by the function and is in the queue ${aws_sqs_queue.dead_letter[0].name}. Read the message, fix the cause, then delete it."

  namespace   = "AWS/SQS"
  metric_name = "ApproximateNumberOfMessagesVisible"
  dimensions  = { QueueName = aws_sqs_queue.dead_letter[0].name }
  statistic   = "Maximum"
  period      = 300

  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"

  alarm_actions = [local.sns_topic_arn]
  ok_actions    = [local.sns_topic_arn]
  tags          = local.tags
}
