# Every feature at once: instances and a cluster, tag selection, an existing destination key and
# alarm topic (created here with plain resources, standing in for ones your platform already has),
# custom schedules, retention, alarms and tuning.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  tags = {
    team        = "payments"
    environment = "production"
  }
}

# --- An existing destination key (in your platform, it already exists) ---------------------------

# KMS's default key policy: the account administers the key and its IAM policies decide who may use
# it, so the module's role uses the key through its own statements (only through RDS) and the module
# creates nothing on the key. A key policy that does not delegate to IAM must name the role instead:
# add the statements of module.rds_snapshot_dr.kms_key_policy_statements (see outputs.tf).

data "aws_iam_policy_document" "destination_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; administration stays with the account.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself, never other resources.
  statement {
    sid       = "EnableAccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }
}

resource "aws_kms_key" "destination" {
  provider = aws.destination

  description         = "Platform DR key for RDS snapshot copies."
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.destination_key.json
  tags                = local.tags
}

# --- An existing alarm topic (in your platform, it already exists) --------------------------------

data "aws_iam_policy_document" "alarms_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; administration stays with the account.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself, never other resources.
  statement {
    sid       = "EnableAccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  # CloudWatch alarms can only publish to an encrypted topic whose key lets them use it (Amazon SNS
  # Developer Guide, "Key management"), here only on behalf of this account (aws:SourceAccount).
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
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description         = "Platform alerts topic key."
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.alarms_key.json
  tags                = local.tags
}

resource "aws_sns_topic" "alerts" {
  name              = "platform-dr-alerts"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = local.tags
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "AccountManagesTopic"
    actions   = ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:Publish", "sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  statement {
    sid       = "AllowCloudWatchAlarmsToPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

# --- The module -----------------------------------------------------------------------------------

module "rds_snapshot_dr" {
  source = "../../"

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name = "payments"

  # What to back up: two instances, a cluster, and anything tagged dr-tier = gold.
  db_instance_identifiers = ["payments-db", "ledger-db"]
  db_cluster_identifiers  = ["settlement-aurora"]
  selection_tags          = { dr-tier = "gold" }

  # Snapshots: names "payments-dr-<database>-<YYYYMMDD>-<HHMM>", extra tags, retention.
  snapshot_prefix = "payments-dr"
  snapshot_tags   = { data-classification = "confidential" }
  retention = {
    source_days      = 3
    destination_days = 35
    keep_last        = 2
  }

  # Backups at 02:30 Berlin time; reconcile every 30 minutes (the RPO alarm period follows it).
  schedule_expression           = "cron(30 2 * * ? *)"
  schedule_timezone             = "Europe/Berlin"
  reconcile_schedule_expression = "rate(30 minutes)"

  # Existing key and topic. create_* = false says so at plan, when their ARNs are not known yet
  # (they are created in this same configuration).
  create_kms_key        = false
  kms_key_arn           = aws_kms_key.destination.arn
  create_sns_topic      = false
  sns_topic_arn         = aws_sns_topic.alerts.arn
  alarm_email_addresses = var.alarm_email_addresses

  # Restore drill: on Sundays one database after the other (never drilled first) is restored from its
  # newest DR copy in a small class, measured and deleted; alarm when one has had no successful drill
  # for 28 days (4 databases, one a week).
  restore_drill = {
    instance_class       = "db.t4g.medium"
    max_lifetime_minutes = 180
    overdue_days         = 28
  }

  # Alarms: the newest copy may be at most 26 hours old; warn at 70 % of the snapshot quota.
  rpo_alarm_threshold            = 26
  snapshot_quota_alarm_threshold = 70

  # Engine and function.
  copy_concurrency_limit                = 10
  aws_api_retry_mode                    = "adaptive"
  lambda_timeout                        = 600
  lambda_reserved_concurrent_executions = 3
  log_retention_days                    = 731
  log_level                             = "DEBUG"

  tags = local.tags
}
