################################################################################
# The function's role and policy
################################################################################

locals {
  source_rds_arn      = "arn:${local.partition}:rds:${local.source_region}:${local.account_id}"
  destination_rds_arn = "arn:${local.partition}:rds:${local.destination_region}:${data.aws_caller_identity.destination.account_id}"

  # Snapshots this instance creates: "<prefix>-<database>-<YYYYMMDD>-<HHMM>", same name in both regions.
  source_snapshot_arns = [
    "${local.source_rds_arn}:snapshot:${local.snapshot_prefix}-*",
    "${local.source_rds_arn}:cluster-snapshot:${local.snapshot_prefix}-*",
  ]
  destination_snapshot_arns = [
    "${local.destination_rds_arn}:snapshot:${local.snapshot_prefix}-*",
    "${local.destination_rds_arn}:cluster-snapshot:${local.snapshot_prefix}-*",
  ]

  # With selection_tags the databases are found at run time, so their ARNs cannot be listed at plan:
  # the policy then allows every DB instance / cluster of the source region and account (the
  # snapshot side of each call stays limited to the prefix). With explicit identifiers only, it
  # lists exactly those databases.
  tag_selection = length(var.selection_tags) > 0
  source_instance_arns = local.tag_selection ? ["${local.source_rds_arn}:db:*"] : [
    for id in var.db_instance_identifiers : "${local.source_rds_arn}:db:${lower(id)}"
  ]
  source_cluster_arns = local.tag_selection ? ["${local.source_rds_arn}:cluster:*"] : [
    for id in var.db_cluster_identifiers : "${local.source_rds_arn}:cluster:${lower(id)}"
  ]

  rds_services = [
    "rds.${local.source_region}.amazonaws.com",
    "rds.${local.destination_region}.amazonaws.com",
  ]
}

data "aws_iam_policy_document" "lambda_assume_role" {
  count = local.create ? 1 : 0

  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count = local.create ? 1 : 0

  name                 = local.name
  description          = "rds-snapshot-dr ${var.name}: snapshots RDS databases and copies them to ${local.destination_region}."
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume_role[0].json
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = local.tags
}

data "aws_iam_policy_document" "lambda" {
  count = local.create ? 1 : 0

  #checkov:skip=CKV_AWS_356:Resource "*" only on DescribeDatabasesAndSnapshots (listing calls and DescribeAccountAttributes, which AWS cannot narrow) and WriteTraces (X-Ray has no resource-level permissions); every other statement names its ARNs.
  # --- Snapshots in the source region ------------------------------------------------------------

  statement {
    sid     = "CreateInstanceSnapshots"
    actions = ["rds:CreateDBSnapshot"]
    # CreateDBSnapshot is authorised against the DB instance AND the new snapshot.
    resources = concat(
      local.source_instance_arns,
      ["${local.source_rds_arn}:snapshot:${local.snapshot_prefix}-*"],
    )
  }

  statement {
    sid     = "CreateClusterSnapshots"
    actions = ["rds:CreateDBClusterSnapshot"]
    # CreateDBClusterSnapshot is authorised against the cluster AND the new cluster snapshot.
    resources = concat(
      local.source_cluster_arns,
      ["${local.source_rds_arn}:cluster-snapshot:${local.snapshot_prefix}-*"],
    )
  }

  statement {
    sid = "TagOwnSnapshots"
    # Tags passed to CreateDB*Snapshot and copied by CopyTags need AddTagsToResource on the new snapshot.
    actions   = ["rds:AddTagsToResource"]
    resources = concat(local.source_snapshot_arns, local.destination_snapshot_arns)
  }

  # --- Copies in the destination region ----------------------------------------------------------

  statement {
    sid     = "CopySnapshotsToDestination"
    actions = ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"]
    # A copy is authorised against the source snapshot (by ARN) and the new copy.
    resources = concat(local.source_snapshot_arns, local.destination_snapshot_arns)
  }

  # --- Reading state -----------------------------------------------------------------------------

  statement {
    sid = "DescribeDatabasesAndSnapshots"
    actions = [
      "rds:DescribeAccountAttributes",
      "rds:DescribeDBClusterSnapshots",
      "rds:DescribeDBClusters",
      "rds:DescribeDBInstances",
      "rds:DescribeDBSnapshots",
    ]
    # Resource "*": the describe calls list (tag selection, snapshots in flight, quota), and
    # DescribeAccountAttributes has no resource at all; AWS offers nothing narrower for listing.
    resources = ["*"]
  }

  # --- Pruning -----------------------------------------------------------------------------------

  statement {
    sid       = "DeleteOwnSnapshots"
    actions   = ["rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"]
    resources = concat(local.source_snapshot_arns, local.destination_snapshot_arns)

    # Only snapshots carrying this instance's ownership tag, never someone else's.
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.owner_tag_key}"
      values   = [var.name]
    }
  }

  # --- KMS ---------------------------------------------------------------------------------------

  statement {
    # Preflight reads the key, its policy and its grants directly (not through RDS): read-only.
    sid       = "ReadDestinationKey"
    actions   = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"]
    resources = [local.kms_key_arn]
  }

  statement {
    sid = "UseDestinationKeyThroughRds"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.rds_services
    }
  }

  statement {
    sid       = "GrantDestinationKeyToRds"
    actions   = ["kms:CreateGrant"]
    resources = [local.kms_key_arn]

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.rds_services
    }
  }

  statement {
    sid = "UseSourceKeysThroughRds"
    # Encrypted source snapshots are read under the database's own key, which the module does not
    # know: any key of the source region and account, and only when RDS uses it for the function.
    actions = [
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = ["arn:${local.partition}:kms:${local.source_region}:${local.account_id}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.rds_services
    }
  }

  # --- Preflight ---------------------------------------------------------------------------------

  statement {
    sid       = "SimulateOwnPermissions"
    actions   = ["iam:GetRole", "iam:SimulatePrincipalPolicy"] # GetRole: the role's ARN with its path
    resources = [aws_iam_role.lambda[0].arn]
  }

  # --- Logs, dead letters, traces ----------------------------------------------------------------

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[0].arn}:*"]
  }

  statement {
    sid       = "SendToDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter[0].arn]
  }

  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []

    content {
      sid     = "WriteTraces"
      actions = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      # Resource "*": X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions.
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  count = local.create ? 1 : 0

  name   = local.name
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}
