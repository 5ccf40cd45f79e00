# The function's IAM policy, statement by statement: every statement's actions, resources and
# conditions are compared whole, so widening any of them (an action, an ARN, a dropped condition)
# fails a run. The rendered JSON is judged against the requests the function really makes, and linted,
# in `scripts/test authz`.

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

run "listed_targets" {
  command = plan

  assert {
    # Listed instances and clusters: each named by ARN, snapshots only under the exact names this instance gives.
    condition = jsonencode({
      for s in data.aws_iam_policy_document.lambda[0].statement : s.sid => {
        effect     = coalesce(s.effect, "Allow")
        actions    = sort(tolist(s.actions))
        resources  = sort(tolist(s.resources))
        conditions = sort([for c in coalesce(s.condition, []) : "${c.test} ${c.variable} ${join(",", sort(c.values))}"])
      }
      }) == jsonencode({
      CopyOwnSnapshotsToDestination = {
        effect  = "Allow"
        actions = ["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
        ]
      }
      CountCopyFailures = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:copy-failures",
          "StringEquals aws:ResourceTag/rds-snapshot-dr:owner orders",
        ]
      }
      CreateOwnClusterSnapshots = {
        effect  = "Allow"
        actions = ["rds:CreateDBClusterSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      CreateOwnInstanceSnapshots = {
        effect  = "Allow"
        actions = ["rds:CreateDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      DeleteOwnSnapshots = {
        effect  = "Allow"
        actions = ["rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:ResourceTag/rds-snapshot-dr:owner orders",
        ]
      }
      DescribeSnapshots = {
        effect  = "Allow"
        actions = ["rds:DescribeDBClusterSnapshots", "rds:DescribeDBSnapshots"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:*",
          "arn:aws:rds:eu-central-1:123456789012:cluster:*",
          "arn:aws:rds:eu-central-1:123456789012:db:*",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:*",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:*",
          "arn:aws:rds:eu-west-1:123456789012:cluster:*",
          "arn:aws:rds:eu-west-1:123456789012:db:*",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:*",
        ]
        conditions = [
        ]
      }
      DescribeSourceDatabases = {
        effect  = "Allow"
        actions = ["rds:DescribeDBClusters", "rds:DescribeDBInstances"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster:*",
          "arn:aws:rds:eu-west-1:123456789012:db:*",
        ]
        conditions = [
        ]
      }
      GrantDestinationKeyToRds = {
        effect  = "Allow"
        actions = ["kms:CreateGrant"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000002",
        ]
        conditions = [
          "Bool kms:GrantIsForAWSResource true",
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      ReadAccountQuotas = {
        effect  = "Allow"
        actions = ["rds:DescribeAccountAttributes"]
        resources = [
          "*",
        ]
        conditions = [
        ]
      }
      ReadDestinationKey = {
        effect  = "Allow"
        actions = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000002",
        ]
        conditions = [
        ]
      }
      SendToDeadLetterQueue = {
        effect  = "Allow"
        actions = ["sqs:SendMessage"]
        resources = [
          "arn:aws:sqs:eu-west-1:123456789012:mock-rds-snapshot-dr-dlq",
        ]
        conditions = [
        ]
      }
      SimulateOwnPermissions = {
        effect  = "Allow"
        actions = ["iam:GetRole", "iam:SimulatePrincipalPolicy"]
        resources = [
          "arn:aws:iam::123456789012:role/mock-rds-snapshot-dr",
        ]
        conditions = [
        ]
      }
      SnapshotListedClusters = {
        effect  = "Allow"
        actions = ["rds:CreateDBClusterSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster:inventory-aurora",
        ]
        conditions = [
        ]
      }
      SnapshotListedInstances = {
        effect  = "Allow"
        actions = ["rds:CreateDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:db:orders-db",
        ]
        conditions = [
        ]
      }
      TagOwnCopies = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:backup-round,rds-snapshot-dr:copy-failures,rds-snapshot-dr:copy-slot,rds-snapshot-dr:owner,rds-snapshot-dr:portable,rds-snapshot-dr:source,rds-snapshot-dr:source-type",
          "StringEqualsIfExists aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      TagOwnSnapshotsOnCreate = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:backup-round,rds-snapshot-dr:copy-slot,rds-snapshot-dr:owner,rds-snapshot-dr:portable,rds-snapshot-dr:source,rds-snapshot-dr:source-type",
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      UseDestinationKeyThroughRds = {
        effect  = "Allow"
        actions = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000002",
        ]
        conditions = [
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      UseSourceKeysThroughRds = {
        effect  = "Allow"
        actions = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        resources = [
          "arn:aws:kms:eu-west-1:123456789012:key/*",
        ]
        conditions = [
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      PassSchedulerRoleToScheduler = {
        effect  = "Allow"
        actions = ["iam:PassRole"]
        resources = [
          "arn:aws:iam::123456789012:role/mock-rds-snapshot-dr",
        ]
        conditions = [
          "StringEquals iam:PassedToService scheduler.amazonaws.com",
        ]
      }
      SwitchCopyWaitingSchedule = {
        effect  = "Allow"
        actions = ["scheduler:GetSchedule", "scheduler:UpdateSchedule"]
        resources = [
          "arn:aws:scheduler:eu-west-1:123456789012:schedule/orders-rds-snapshot-dr/orders-rds-snapshot-dr-copy-waiting",
        ]
        conditions = [
        ]
      }
      WriteOwnLogs = {
        effect  = "Allow"
        actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resources = [
          "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mock-rds-snapshot-dr:*",
        ]
        conditions = [
        ]
      }
      WriteTraces = {
        effect  = "Allow"
        actions = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        resources = [
          "*",
        ]
        conditions = [
        ]
      }
    })
    error_message = "The policy for listed targets changed: every statement's actions, resources and conditions are pinned here."
  }
}

run "tag_selection_only" {
  command = plan

  variables {
    db_instance_identifiers = []
    db_cluster_identifiers  = []
    selection_tags          = { dr-tier = "gold", env = "prod" }
    snapshot_tags           = { team = "payments" }
    tracing_enabled         = false
  }

  assert {
    # Tag selection only: any database of the source region, but only while it carries every selection tag; no statement for listed databases, no traces.
    condition = jsonencode({
      for s in data.aws_iam_policy_document.lambda[0].statement : s.sid => {
        effect     = coalesce(s.effect, "Allow")
        actions    = sort(tolist(s.actions))
        resources  = sort(tolist(s.resources))
        conditions = sort([for c in coalesce(s.condition, []) : "${c.test} ${c.variable} ${join(",", sort(c.values))}"])
      }
      }) == jsonencode({
      CopyOwnSnapshotsToDestination = {
        effect  = "Allow"
        actions = ["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
        ]
      }
      CountCopyFailures = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:copy-failures",
          "StringEquals aws:ResourceTag/rds-snapshot-dr:owner orders",
        ]
      }
      CreateOwnClusterSnapshots = {
        effect  = "Allow"
        actions = ["rds:CreateDBClusterSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      CreateOwnInstanceSnapshots = {
        effect  = "Allow"
        actions = ["rds:CreateDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      DeleteOwnSnapshots = {
        effect  = "Allow"
        actions = ["rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:ResourceTag/rds-snapshot-dr:owner orders",
        ]
      }
      DescribeSnapshots = {
        effect  = "Allow"
        actions = ["rds:DescribeDBClusterSnapshots", "rds:DescribeDBSnapshots"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:*",
          "arn:aws:rds:eu-central-1:123456789012:cluster:*",
          "arn:aws:rds:eu-central-1:123456789012:db:*",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:*",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:*",
          "arn:aws:rds:eu-west-1:123456789012:cluster:*",
          "arn:aws:rds:eu-west-1:123456789012:db:*",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:*",
        ]
        conditions = [
        ]
      }
      DescribeSourceDatabases = {
        effect  = "Allow"
        actions = ["rds:DescribeDBClusters", "rds:DescribeDBInstances"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster:*",
          "arn:aws:rds:eu-west-1:123456789012:db:*",
        ]
        conditions = [
        ]
      }
      GrantDestinationKeyToRds = {
        effect  = "Allow"
        actions = ["kms:CreateGrant"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000002",
        ]
        conditions = [
          "Bool kms:GrantIsForAWSResource true",
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      ReadAccountQuotas = {
        effect  = "Allow"
        actions = ["rds:DescribeAccountAttributes"]
        resources = [
          "*",
        ]
        conditions = [
        ]
      }
      ReadDestinationKey = {
        effect  = "Allow"
        actions = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000002",
        ]
        conditions = [
        ]
      }
      SendToDeadLetterQueue = {
        effect  = "Allow"
        actions = ["sqs:SendMessage"]
        resources = [
          "arn:aws:sqs:eu-west-1:123456789012:mock-rds-snapshot-dr-dlq",
        ]
        conditions = [
        ]
      }
      SimulateOwnPermissions = {
        effect  = "Allow"
        actions = ["iam:GetRole", "iam:SimulatePrincipalPolicy"]
        resources = [
          "arn:aws:iam::123456789012:role/mock-rds-snapshot-dr",
        ]
        conditions = [
        ]
      }
      SnapshotTaggedClusters = {
        effect  = "Allow"
        actions = ["rds:CreateDBClusterSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster:*",
        ]
        conditions = [
          "StringEquals rds:cluster-tag/dr-tier gold",
          "StringEquals rds:cluster-tag/env prod",
        ]
      }
      SnapshotTaggedInstances = {
        effect  = "Allow"
        actions = ["rds:CreateDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:db:*",
        ]
        conditions = [
          "StringEquals rds:db-tag/dr-tier gold",
          "StringEquals rds:db-tag/env prod",
        ]
      }
      TagOwnCopies = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:backup-round,rds-snapshot-dr:copy-failures,rds-snapshot-dr:copy-slot,rds-snapshot-dr:owner,rds-snapshot-dr:portable,rds-snapshot-dr:source,rds-snapshot-dr:source-type,team",
          "StringEqualsIfExists aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      TagOwnSnapshotsOnCreate = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:backup-round,rds-snapshot-dr:copy-slot,rds-snapshot-dr:owner,rds-snapshot-dr:portable,rds-snapshot-dr:source,rds-snapshot-dr:source-type,team",
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      UseDestinationKeyThroughRds = {
        effect  = "Allow"
        actions = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000002",
        ]
        conditions = [
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      UseSourceKeysThroughRds = {
        effect  = "Allow"
        actions = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        resources = [
          "arn:aws:kms:eu-west-1:123456789012:key/*",
        ]
        conditions = [
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      PassSchedulerRoleToScheduler = {
        effect  = "Allow"
        actions = ["iam:PassRole"]
        resources = [
          "arn:aws:iam::123456789012:role/mock-rds-snapshot-dr",
        ]
        conditions = [
          "StringEquals iam:PassedToService scheduler.amazonaws.com",
        ]
      }
      SwitchCopyWaitingSchedule = {
        effect  = "Allow"
        actions = ["scheduler:GetSchedule", "scheduler:UpdateSchedule"]
        resources = [
          "arn:aws:scheduler:eu-west-1:123456789012:schedule/orders-rds-snapshot-dr/orders-rds-snapshot-dr-copy-waiting",
        ]
        conditions = [
        ]
      }
      WriteOwnLogs = {
        effect  = "Allow"
        actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resources = [
          "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mock-rds-snapshot-dr:*",
        ]
        conditions = [
        ]
      }
    })
    error_message = "The policy for tag-selected targets changed: every statement's actions, resources and conditions are pinned here."
  }
}

run "instances_only_with_an_existing_key" {
  command = plan

  variables {
    db_cluster_identifiers = []
    create_kms_key         = false
    kms_key_arn            = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    # Instances only: no cluster snapshot is ever created, so no CreateDBClusterSnapshot statement (it would be a dead grant); an existing key is named by its ARN.
    condition = jsonencode({
      for s in data.aws_iam_policy_document.lambda[0].statement : s.sid => {
        effect     = coalesce(s.effect, "Allow")
        actions    = sort(tolist(s.actions))
        resources  = sort(tolist(s.resources))
        conditions = sort([for c in coalesce(s.condition, []) : "${c.test} ${c.variable} ${join(",", sort(c.values))}"])
      }
      }) == jsonencode({
      CopyOwnSnapshotsToDestination = {
        effect  = "Allow"
        actions = ["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
        ]
      }
      CountCopyFailures = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:copy-failures",
          "StringEquals aws:ResourceTag/rds-snapshot-dr:owner orders",
        ]
      }
      CreateOwnInstanceSnapshots = {
        effect  = "Allow"
        actions = ["rds:CreateDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      DeleteOwnSnapshots = {
        effect  = "Allow"
        actions = ["rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "StringEquals aws:ResourceTag/rds-snapshot-dr:owner orders",
        ]
      }
      DescribeSnapshots = {
        effect  = "Allow"
        actions = ["rds:DescribeDBClusterSnapshots", "rds:DescribeDBSnapshots"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:*",
          "arn:aws:rds:eu-central-1:123456789012:cluster:*",
          "arn:aws:rds:eu-central-1:123456789012:db:*",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:*",
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:*",
          "arn:aws:rds:eu-west-1:123456789012:cluster:*",
          "arn:aws:rds:eu-west-1:123456789012:db:*",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:*",
        ]
        conditions = [
        ]
      }
      DescribeSourceDatabases = {
        effect  = "Allow"
        actions = ["rds:DescribeDBClusters", "rds:DescribeDBInstances"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster:*",
          "arn:aws:rds:eu-west-1:123456789012:db:*",
        ]
        conditions = [
        ]
      }
      GrantDestinationKeyToRds = {
        effect  = "Allow"
        actions = ["kms:CreateGrant"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        ]
        conditions = [
          "Bool kms:GrantIsForAWSResource true",
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      ReadAccountQuotas = {
        effect  = "Allow"
        actions = ["rds:DescribeAccountAttributes"]
        resources = [
          "*",
        ]
        conditions = [
        ]
      }
      ReadDestinationKey = {
        effect  = "Allow"
        actions = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        ]
        conditions = [
        ]
      }
      SendToDeadLetterQueue = {
        effect  = "Allow"
        actions = ["sqs:SendMessage"]
        resources = [
          "arn:aws:sqs:eu-west-1:123456789012:mock-rds-snapshot-dr-dlq",
        ]
        conditions = [
        ]
      }
      SimulateOwnPermissions = {
        effect  = "Allow"
        actions = ["iam:GetRole", "iam:SimulatePrincipalPolicy"]
        resources = [
          "arn:aws:iam::123456789012:role/mock-rds-snapshot-dr",
        ]
        conditions = [
        ]
      }
      SnapshotListedInstances = {
        effect  = "Allow"
        actions = ["rds:CreateDBSnapshot"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:db:orders-db",
        ]
        conditions = [
        ]
      }
      TagOwnCopies = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-central-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-central-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:backup-round,rds-snapshot-dr:copy-failures,rds-snapshot-dr:copy-slot,rds-snapshot-dr:owner,rds-snapshot-dr:portable,rds-snapshot-dr:source,rds-snapshot-dr:source-type",
          "StringEqualsIfExists aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      TagOwnSnapshotsOnCreate = {
        effect  = "Allow"
        actions = ["rds:AddTagsToResource"]
        resources = [
          "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:dr6-orders-*-????????-????",
          "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-*-????????-????",
        ]
        conditions = [
          "ForAllValues:StringEquals aws:TagKeys rds-snapshot-dr:backup-round,rds-snapshot-dr:copy-slot,rds-snapshot-dr:owner,rds-snapshot-dr:portable,rds-snapshot-dr:source,rds-snapshot-dr:source-type",
          "StringEquals aws:RequestTag/rds-snapshot-dr:owner orders",
        ]
      }
      UseDestinationKeyThroughRds = {
        effect  = "Allow"
        actions = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        resources = [
          "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        ]
        conditions = [
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      UseSourceKeysThroughRds = {
        effect  = "Allow"
        actions = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        resources = [
          "arn:aws:kms:eu-west-1:123456789012:key/*",
        ]
        conditions = [
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      PassSchedulerRoleToScheduler = {
        effect  = "Allow"
        actions = ["iam:PassRole"]
        resources = [
          "arn:aws:iam::123456789012:role/mock-rds-snapshot-dr",
        ]
        conditions = [
          "StringEquals iam:PassedToService scheduler.amazonaws.com",
        ]
      }
      SwitchCopyWaitingSchedule = {
        effect  = "Allow"
        actions = ["scheduler:GetSchedule", "scheduler:UpdateSchedule"]
        resources = [
          "arn:aws:scheduler:eu-west-1:123456789012:schedule/orders-rds-snapshot-dr/orders-rds-snapshot-dr-copy-waiting",
        ]
        conditions = [
        ]
      }
      WriteOwnLogs = {
        effect  = "Allow"
        actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
        resources = [
          "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mock-rds-snapshot-dr:*",
        ]
        conditions = [
        ]
      }
      WriteTraces = {
        effect  = "Allow"
        actions = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
        resources = [
          "*",
        ]
        conditions = [
        ]
      }
    })
    error_message = "The policy for instances only with an existing key changed: every statement's actions, resources and conditions are pinned here."
  }
}

run "existing_key_is_used_through_the_roles_own_statements_not_a_grant" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  # Issue 19, finding 4: no grant on an existing key (a grant's children carry only its operations, and
  # a grant cannot carry kms:ViaService). What creating an RDS resource under a customer managed key
  # needs from the caller (RDS User Guide, "AWS KMS key management": kms:CreateGrant, kms:DescribeKey)
  # comes from the role's own statements, which work where the key policy delegates to IAM.
  assert {
    condition = jsonencode({
      for s in data.aws_iam_policy_document.lambda[0].statement : s.sid => {
        actions    = sort(tolist(s.actions))
        resources  = sort(tolist(s.resources))
        conditions = sort([for c in coalesce(s.condition, []) : "${c.test} ${c.variable} ${join(",", sort(c.values))}"])
      } if contains(["ReadDestinationKey", "GrantDestinationKeyToRds"], s.sid)
      }) == jsonencode({
      GrantDestinationKeyToRds = {
        actions   = ["kms:CreateGrant"]
        resources = [var.kms_key_arn]
        conditions = [
          "Bool kms:GrantIsForAWSResource true",
          "StringEquals kms:ViaService rds.eu-central-1.amazonaws.com,rds.eu-west-1.amazonaws.com",
        ]
      }
      ReadDestinationKey = {
        actions    = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"]
        resources  = [var.kms_key_arn]
        conditions = []
      }
    })
    error_message = "On an existing key the role's own statements allow kms:DescribeKey and, only through RDS and only for AWS resources, kms:CreateGrant."
  }
}

# --- Unambiguous snapshot prefixes ----------------------------------------------------------------

run "prefix_of_crm" {
  command = plan

  variables {
    name = "crm"
  }
}

run "prefix_of_crm_reporting" {
  command = plan

  variables {
    name = "crm-reporting"
  }
}

run "generated_prefixes_never_begin_another_instances_names" {
  command = plan

  assert {
    condition = (
      run.prefix_of_crm.snapshot_prefix == "dr3-crm" &&
      run.prefix_of_crm_reporting.snapshot_prefix == "dr13-crm-reporting" &&
      !startswith("${run.prefix_of_crm_reporting.snapshot_prefix}-", "${run.prefix_of_crm.snapshot_prefix}-") &&
      !startswith("${run.prefix_of_crm.snapshot_prefix}-", "${run.prefix_of_crm_reporting.snapshot_prefix}-")
    )
    error_message = "The generated prefix of \"crm\" must not begin the snapshot names of \"crm-reporting\", nor the reverse."
  }

  assert {
    condition     = aws_lambda_function.this[0].environment[0].variables["SNAPSHOT_PREFIX"] == "dr6-orders" && output.snapshot_prefix == "dr6-orders"
    error_message = "The function's SNAPSHOT_PREFIX must be the generated prefix."
  }
}

run "chosen_prefix_in_the_generated_shape_is_refused" {
  command = plan

  variables {
    snapshot_prefix = "dr3-crm"
  }

  expect_failures = [var.snapshot_prefix]
}

run "own_generated_prefix_may_be_written_out" {
  command = plan

  variables {
    snapshot_prefix = "dr6-orders"
  }
}

# --- ARNs passed in: partition, account, region ---------------------------------------------------

run "existing_key_in_another_region_is_refused_at_plan" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  expect_failures = [terraform_data.input_checks[0]]
}

run "existing_key_of_another_account_is_refused_at_plan" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-central-1:999999999999:key/11111111-2222-3333-4444-555555555555"
  }

  expect_failures = [terraform_data.input_checks[0]]
}

run "existing_key_of_another_partition_is_refused_at_plan" {
  command = plan

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws-cn:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  expect_failures = [terraform_data.input_checks[0]]
}

run "topic_in_another_region_than_the_alarms_is_refused" {
  command = plan

  variables {
    create_sns_topic = false
    sns_topic_arn    = "arn:aws:sns:eu-central-1:123456789012:platform-dr-alerts"
  }

  expect_failures = [terraform_data.input_checks[0]]
}

run "topic_in_the_alarms_region_is_accepted" {
  command = plan

  variables {
    create_sns_topic = false
    sns_topic_arn    = "arn:aws:sns:eu-west-1:123456789012:platform-dr-alerts"
  }
}

run "log_key_in_another_region_is_refused" {
  command = plan

  variables {
    log_kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  expect_failures = [terraform_data.input_checks[0]]
}

run "cross_account_principal_of_another_partition_is_refused" {
  command = plan

  variables {
    kms_key_cross_account_principals = ["arn:aws-cn:iam::111122223333:root"]
  }

  expect_failures = [terraform_data.input_checks[0]]
}

run "sns_arn_of_another_service_is_refused" {
  command = plan

  variables {
    create_sns_topic = false
    sns_topic_arn    = "arn:aws:sqs:eu-west-1:123456789012:platform-dr-alerts"
  }

  expect_failures = [var.sns_topic_arn]
}

run "without_the_copy_waiting_schedule_nothing_switches_schedules" {
  command = plan

  variables {
    copy_waiting_schedule_expression = null
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.lambda[0].statement : s.sid if contains(["SwitchCopyWaitingSchedule", "PassSchedulerRoleToScheduler"], s.sid)]) == 0
    error_message = "Without a copy-waiting schedule the function may neither switch a schedule nor pass the scheduler role."
  }

  assert {
    condition     = local.lambda_environment.COPY_WAITING_SCHEDULE_ARN == ""
    error_message = "Without a copy-waiting schedule the function must not be told of one."
  }
}
