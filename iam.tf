################################################################################
# The function's role and policy
################################################################################

locals {
  source_rds_arn      = "arn:${local.partition}:rds:${local.source_region}:${local.account_id}"
  destination_rds_arn = "arn:${local.partition}:rds:${local.destination_region}:${data.aws_caller_identity.destination.account_id}"

  # The exact names this instance gives, "<prefix>-<database>-<YYYYMMDD>-<HHMM>", same in both
  # regions: IAM ARN wildcards are "*" (any run of characters) and "?" (exactly one), within an ARN
  # segment (IAM User Guide, "IAM JSON policy elements: Resource", Using wildcards in resource
  # ARNs). So a person's copy named ours plus a suffix ("...-0300-legal-hold") is out of reach.
  snapshot_name_pattern = "${local.snapshot_prefix}-*-????????-????"
  source_snapshot_arns = [
    "${local.source_rds_arn}:snapshot:${local.snapshot_name_pattern}",
    "${local.source_rds_arn}:cluster-snapshot:${local.snapshot_name_pattern}",
  ]
  destination_snapshot_arns = [
    "${local.destination_rds_arn}:snapshot:${local.snapshot_name_pattern}",
    "${local.destination_rds_arn}:cluster-snapshot:${local.snapshot_name_pattern}",
  ]

  # Targets: explicit identifiers are named by ARN; tag-selected databases are found at run time,
  # so their statement allows any database of the source region and account, but only while it
  # carries every selection tag (rds:db-tag/<key>, rds:cluster-tag/<key>).
  tag_selection        = length(var.selection_tags) > 0
  listed_instance_arns = [for id in var.db_instance_identifiers : "${local.source_rds_arn}:db:${lower(id)}"]
  listed_cluster_arns  = [for id in var.db_cluster_identifiers : "${local.source_rds_arn}:cluster:${lower(id)}"]

  # Tag keys the function puts on a snapshot it creates (decisions.snapshot_tags): the owner tag,
  # the source, its kind, the backup round, and the user's snapshot_tags.
  snapshot_tag_keys = sort(distinct(concat(
    [local.owner_tag_key, "rds-snapshot-dr:source", "rds-snapshot-dr:source-type", "rds-snapshot-dr:backup-round"],
    keys(var.snapshot_tags),
  )))

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

# Each statement cites the Service Authorization Reference for the resource types and condition keys
# it uses: RDS https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html
# KMS https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html
data "aws_iam_policy_document" "lambda" {
  count = local.create ? 1 : 0

  #checkov:skip=CKV_AWS_356:Resource "*" only on ReadAccountQuotas (DescribeAccountAttributes has no resource type) and WriteTraces (X-Ray has no resource-level permissions); every other statement names its ARNs.
  # --- Snapshots in the source region ------------------------------------------------------------

  # CreateDBSnapshot requires two resource types, db* and snapshot* (reference: CreateDBSnapshot), so
  # each statement names the database(s) and the snapshot names this instance gives.
  dynamic "statement" {
    for_each = length(var.db_instance_identifiers) > 0 ? [1] : []

    content {
      sid       = "SnapshotListedInstances"
      actions   = ["rds:CreateDBSnapshot"]
      resources = concat(local.listed_instance_arns, [local.source_snapshot_arns[0]])
    }
  }

  dynamic "statement" {
    for_each = local.tag_selection ? [1] : []

    content {
      # Tag-selected instances are found at run time: any instance of the source region and account,
      # but only while it carries every selection tag. rds:db-tag/<key> is a condition key of the db
      # resource type (reference: Resource types, db) and RDS evaluates it for CreateDBSnapshot
      # (RDS User Guide, "Specifying conditions: Using custom tags").
      sid     = "SnapshotTaggedInstances"
      actions = ["rds:CreateDBSnapshot"]
      resources = [
        "${local.source_rds_arn}:db:*",
        local.source_snapshot_arns[0],
      ]

      dynamic "condition" {
        for_each = var.selection_tags

        content {
          test     = "StringEquals"
          variable = "rds:db-tag/${condition.key}"
          values   = [condition.value]
        }
      }
    }
  }

  # CreateDBClusterSnapshot requires cluster* and cluster-snapshot* (reference:
  # CreateDBClusterSnapshot): granted on cluster-snapshot ARNs alone it would be a dead grant.
  dynamic "statement" {
    for_each = length(var.db_cluster_identifiers) > 0 ? [1] : []

    content {
      sid       = "SnapshotListedClusters"
      actions   = ["rds:CreateDBClusterSnapshot"]
      resources = concat(local.listed_cluster_arns, [local.source_snapshot_arns[1]])
    }
  }

  dynamic "statement" {
    for_each = local.tag_selection ? [1] : []

    content {
      # As SnapshotTaggedInstances, with rds:cluster-tag/<key> (reference: Resource types, cluster).
      sid     = "SnapshotTaggedClusters"
      actions = ["rds:CreateDBClusterSnapshot"]
      resources = [
        "${local.source_rds_arn}:cluster:*",
        local.source_snapshot_arns[1],
      ]

      dynamic "condition" {
        for_each = var.selection_tags

        content {
          test     = "StringEquals"
          variable = "rds:cluster-tag/${condition.key}"
          values   = [condition.value]
        }
      }
    }
  }

  statement {
    # Tags given to CreateDB*Snapshot are authorised as rds:AddTagsToResource on the new snapshot
    # (RDS User Guide, "Grant permission to tag Amazon RDS resources during creation"); CopyTags
    # carries the same tags to the copy. The reference lists for AddTagsToResource only
    # aws:RequestTag/${TagKey}, aws:TagKeys and rds:req-tag/${TagKey}: RDS has no condition key that
    # tells tagging-on-create from a later AddTagsToResource call (nothing like ec2:CreateAction).
    # So this statement is bounded by everything IAM offers: only the exact names this instance gives
    # (in both regions), only the module's own tag keys and the user's snapshot_tags keys, and the
    # owner tag, when present, only with this instance's name. The function itself only tags on
    # create and copy; the engine's ownership rule (exact name AND owner tag) covers the rest.
    sid       = "TagOwnSnapshotsOnCreate"
    actions   = ["rds:AddTagsToResource"]
    resources = concat(local.source_snapshot_arns, local.destination_snapshot_arns)

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = local.snapshot_tag_keys
    }

    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:RequestTag/${local.owner_tag_key}"
      values   = [var.name]
    }
  }

  # --- Copies in the destination region ----------------------------------------------------------

  statement {
    sid     = "CopyOwnSnapshotsToDestination"
    actions = ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"]
    # CopyDBSnapshot requires snapshot*, CopyDBClusterSnapshot cluster-snapshot* (reference): the
    # source snapshot (by its full ARN) and the new copy, both under this instance's exact names.
    resources = concat(local.source_snapshot_arns, local.destination_snapshot_arns)
  }

  # --- Reading state -----------------------------------------------------------------------------

  statement {
    # DescribeDBInstances requires db*, DescribeDBClusters cluster* (reference): the databases of the
    # source region and account (tag selection lists them all).
    sid     = "DescribeSourceDatabases"
    actions = ["rds:DescribeDBInstances", "rds:DescribeDBClusters"]
    resources = [
      "${local.source_rds_arn}:db:*",
      "${local.source_rds_arn}:cluster:*",
    ]
  }

  statement {
    # DescribeDBSnapshots takes db and snapshot, DescribeDBClusterSnapshots cluster and
    # cluster-snapshot (reference). Every manual snapshot of both regions, not only ours: the quota
    # count and the account-wide copies in flight include everyone's.
    sid     = "DescribeSnapshots"
    actions = ["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"]
    resources = flatten([
      for arn in [local.source_rds_arn, local.destination_rds_arn] : [
        "${arn}:db:*",
        "${arn}:snapshot:*",
        "${arn}:cluster:*",
        "${arn}:cluster-snapshot:*",
      ]
    ])
  }

  statement {
    sid     = "ReadAccountQuotas"
    actions = ["rds:DescribeAccountAttributes"]
    # Resource "*": the reference lists no resource type for DescribeAccountAttributes.
    resources = ["*"]
  }

  # --- Pruning -----------------------------------------------------------------------------------

  statement {
    # DeleteDBSnapshot requires snapshot*, DeleteDBClusterSnapshot cluster-snapshot*; both resource
    # types take aws:ResourceTag/${TagKey} (reference). Only the exact names this instance gives AND
    # its ownership tag: never someone else's.
    sid       = "DeleteOwnSnapshots"
    actions   = ["rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"]
    resources = concat(local.source_snapshot_arns, local.destination_snapshot_arns)

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
