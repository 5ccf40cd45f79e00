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

  # Tag keys the function writes on snapshots: on a new source snapshot (naming.snapshot_tags; CopyTags
  # carries them to its copy) and later on an owned one (the copy-failure count). From tag_keys.json, the
  # file the function itself reads, plus the user's snapshot_tags: the keys IAM allows are the keys the
  # function writes (the authorization stage of scripts/test judges the real requests against them).
  snapshot_create_tag_keys = sort(distinct(concat(
    [for name in local.function_tag_keys.snapshot_on_create : local.function_tag_keys.keys[name]],
    keys(var.snapshot_tags),
  )))
  snapshot_later_tag_keys = sort([for name in local.function_tag_keys.snapshot_later : local.function_tag_keys.keys[name]])
  snapshot_kinds = {
    instance = length(var.db_instance_identifiers) > 0 || local.tag_selection
    cluster  = length(var.db_cluster_identifiers) > 0 || local.tag_selection
  }

  rds_services = [
    "rds.${local.source_region}.amazonaws.com",
    "rds.${local.destination_region}.amazonaws.com",
  ]
}

# The trust policy: rendered with or without create_role (output function_trust_policy_json), the role
# created only with it.
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
  count = local.create_role ? 1 : 0

  name                 = local.name
  description          = "rds-snapshot-dr ${var.name}: snapshots RDS databases and copies them to ${local.destination_region}."
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume_role[0].json
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = local.tags
}

# The policy is rendered with or without create_role: with create_role = false it names the caller's role
# (role_arn) and is the output function_policy_json, for whoever creates that role.
# Each statement cites the Service Authorization Reference for the resource types and condition keys
# it uses: RDS https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html
# KMS https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html
data "aws_iam_policy_document" "lambda" {
  count = local.create ? 1 : 0

  #checkov:skip=CKV_AWS_356:Resource "*" only on ReadAccountQuotas (DescribeAccountAttributes has no resource type) and WriteTraces (X-Ray has no resource-level permissions); every other statement names its ARNs.
  # --- Snapshots in the source region ------------------------------------------------------------

  # CreateDBSnapshot requires two resource types, db* and snapshot*, CreateDBClusterSnapshot cluster* and
  # cluster-snapshot* (reference), and AWS authorizes each resource of the request on its own. So the
  # databases and the new snapshots are in separate statements: a condition key of the db type
  # (rds:db-tag/<key>) never matches the snapshot resource, and a statement naming both under it denies
  # the snapshot (RDS User Guide, "Specifying conditions: Using custom tags", whose example splits them).
  dynamic "statement" {
    for_each = local.snapshot_kinds.instance ? [1] : []

    content {
      # The new snapshot: only the exact names this instance gives, and only created with its ownership
      # tag (aws:RequestTag is a condition key of CreateDBSnapshot itself).
      sid       = "CreateOwnInstanceSnapshots"
      actions   = ["rds:CreateDBSnapshot"]
      resources = [local.source_snapshot_arns[0]]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/${local.owner_tag_key}"
        values   = [var.name]
      }
    }
  }

  dynamic "statement" {
    for_each = local.snapshot_kinds.cluster ? [1] : []

    content {
      sid       = "CreateOwnClusterSnapshots"
      actions   = ["rds:CreateDBClusterSnapshot"]
      resources = [local.source_snapshot_arns[1]]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/${local.owner_tag_key}"
        values   = [var.name]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.db_instance_identifiers) > 0 ? [1] : []

    content {
      sid       = "SnapshotListedInstances"
      actions   = ["rds:CreateDBSnapshot"]
      resources = local.listed_instance_arns
    }
  }

  dynamic "statement" {
    for_each = local.tag_selection ? [1] : []

    content {
      # Tag-selected instances are found at run time: any instance of the source region and account,
      # but only while it carries every selection tag. rds:db-tag/<key> is a condition key of the db
      # resource type (reference: Resource types, db), so this statement names databases only.
      sid       = "SnapshotTaggedInstances"
      actions   = ["rds:CreateDBSnapshot"]
      resources = ["${local.source_rds_arn}:db:*"]

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

  dynamic "statement" {
    for_each = length(var.db_cluster_identifiers) > 0 ? [1] : []

    content {
      sid       = "SnapshotListedClusters"
      actions   = ["rds:CreateDBClusterSnapshot"]
      resources = local.listed_cluster_arns
    }
  }

  dynamic "statement" {
    for_each = local.tag_selection ? [1] : []

    content {
      # As SnapshotTaggedInstances, with rds:cluster-tag/<key> (reference: Resource types, cluster).
      sid       = "SnapshotTaggedClusters"
      actions   = ["rds:CreateDBClusterSnapshot"]
      resources = ["${local.source_rds_arn}:cluster:*"]

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
    # (RDS User Guide, "Grant permission to tag Amazon RDS resources during creation"). The reference
    # lists for AddTagsToResource only aws:RequestTag/${TagKey}, aws:TagKeys, rds:req-tag/${TagKey} and
    # rds:TagsFromRequest: RDS has no condition key that tells tagging-on-create from a later
    # AddTagsToResource call. So this statement is bounded by everything IAM offers: only the exact
    # names this instance gives, only the keys the function writes on create (tag_keys.json) and the
    # user's snapshot_tags keys, and always with this instance's owner tag.
    sid       = "TagOwnSnapshotsOnCreate"
    actions   = ["rds:AddTagsToResource"]
    resources = local.source_snapshot_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = local.snapshot_create_tag_keys
    }

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.owner_tag_key}"
      values   = [var.name]
    }
  }

  statement {
    # The copy receives its source's tags (CopyTags), which may include the copy-failure count. Whether
    # RDS authorizes inherited tags with aws:RequestTag set is not documented (rds:TagsFromRequest is
    # false for them), so the owner condition holds only where the key is present.
    sid       = "TagOwnCopies"
    actions   = ["rds:AddTagsToResource"]
    resources = local.destination_snapshot_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = sort(concat(local.snapshot_create_tag_keys, local.snapshot_later_tag_keys))
    }

    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:RequestTag/${local.owner_tag_key}"
      values   = [var.name]
    }
  }

  statement {
    # After a copy ends failed, the engine counts it on the source snapshot (tag_keys.json
    # "snapshot_later"): only that key, and only on a snapshot that already carries this instance's
    # ownership tag (aws:ResourceTag is a condition key of the snapshot and cluster-snapshot types).
    sid       = "CountCopyFailures"
    actions   = ["rds:AddTagsToResource"]
    resources = local.source_snapshot_arns

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = local.snapshot_later_tag_keys
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.owner_tag_key}"
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
    resources = [local.role_arn]
  }

  # --- The copy-waiting schedule: on while copies wait, off when none do ----------------------------

  dynamic "statement" {
    for_each = var.copy_waiting_schedule_expression != null ? [1] : []

    content {
      sid       = "SwitchCopyWaitingSchedule"
      actions   = ["scheduler:GetSchedule", "scheduler:UpdateSchedule"]
      resources = [local.copy_waiting_schedule_arn]
    }
  }

  # UpdateSchedule passes the schedule's role again (iam:PassRole is a dependent action of
  # scheduler:UpdateSchedule: Service Authorization Reference, Amazon EventBridge Scheduler).
  dynamic "statement" {
    for_each = var.copy_waiting_schedule_expression != null ? [1] : []

    content {
      sid       = "PassSchedulerRoleToScheduler"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.scheduler[0].arn]

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["scheduler.amazonaws.com"]
      }
    }
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

# Everything the function's role must allow, in one document: the output function_policy_json, for a role
# of the caller's (create_role = false). The module's own role carries the same statements in two inline
# policies (this one and, with the drill, drill.tf's), so a role without the drill keeps its policy as it was.
data "aws_iam_policy_document" "function" {
  count = local.create ? 1 : 0

  source_policy_documents = concat(
    [data.aws_iam_policy_document.lambda[0].json],
    data.aws_iam_policy_document.drill[*].json,
  )
}

resource "aws_iam_role_policy" "lambda" {
  count = local.create_role ? 1 : 0

  name   = local.name
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}
