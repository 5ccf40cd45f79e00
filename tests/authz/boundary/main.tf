# The authorization stage's configuration with a permissions boundary: the roles the module creates are
# bounded by a policy a platform team typically sets (only the services and regions the module uses),
# and every request of a tag-selected, drilled module instance, and every call Scheduler and EventBridge
# make with its roles, must still be allowed through it.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "boundary" {
  statement {
    sid = "OnlyTheServicesOfSnapshotDr"
    actions = [
      "rds:*",
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey*",
      "kms:GetKeyPolicy",
      "kms:ListGrants",
      "kms:ReEncrypt*",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:SendMessage",
      "ssm:GetParameter",
      "ssm:PutParameter",
      "iam:GetRole",
      "iam:SimulatePrincipalPolicy",
      # the function switches its copy-waiting schedule on and off
      "scheduler:GetSchedule",
      "scheduler:UpdateSchedule",
      # The boundary bounds the scheduler's and the copy-events role too: the schedules invoke the
      # function, the destination rule forwards finished-copy events to the source region's bus.
      "lambda:InvokeFunction",
      "events:PutEvents",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.source_region, var.destination_region]
    }
  }

  statement {
    # IAM is a global service: its requests name us-east-1 whatever the region.
    sid       = "ReadOwnRole"
    actions   = ["iam:GetRole", "iam:SimulatePrincipalPolicy"]
    resources = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/*"]
  }

  statement {
    # Switching a schedule passes its role to Scheduler again.
    sid       = "PassRolesToSchedulerOnly"
    actions   = ["iam:PassRole"]
    resources = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["scheduler.amazonaws.com"]
    }
  }

  statement {
    sid       = "NeverDeleteDatabasesOutsideTheDrill"
    effect    = "Deny"
    actions   = ["rds:DeleteDBInstance", "rds:DeleteDBCluster"]
    resources = ["*"]

    condition {
      test     = "Null"
      variable = "aws:ResourceTag/rds-snapshot-dr:drill"
      values   = ["true"]
    }
  }
}

resource "aws_iam_policy" "boundary" {
  name   = "platform-boundary"
  policy = data.aws_iam_policy_document.boundary.json
}

module "rds_snapshot_dr" {
  source = "../../../"

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name                    = "bounded"
  db_instance_identifiers = ["orders-db"]
  db_cluster_identifiers  = ["inventory-aurora"]
  selection_tags          = { dr-protect = "daily" }

  iam_role_permissions_boundary = aws_iam_policy.boundary.arn

  # Copies shared with another account: the key lets it use them only through RDS (issue 19, finding 10).
  kms_key_cross_account_principals = ["111122223333"]

  restore_drill = {
    instance_class = "db.t4g.medium"
  }
}
