################################################################################
# The policy of the person who restores: output restore_operator_policy_json
################################################################################

# What `python -m rds_snapshot_dr restore --function-name <function>` sends, and nothing else: attach it
# to the role your on-call engineers assume on DR day. The function's own role cannot restore (only its
# drill can, and only under the names the drill gives); a restore is a person's decision. The authorization
# stage of scripts/test runs the command (an instance and an Aurora cluster) and judges every request
# it makes against this document with a real IAM evaluator.
#
# Resource types and condition keys per action: Service Authorization Reference,
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html and
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html
data "aws_iam_policy_document" "restore_operator" {
  count = local.create ? 1 : 0

  #checkov:skip=CKV_AWS_356:Resource "*" only on DescribeOrderableDBInstanceOptions, which has no resource type.
  #checkov:skip=CKV_AWS_111:Restores create databases whose names the operator chooses: db:* and cluster:* of the DR region only.
  statement {
    # --function-name: the command reads the deployed function's settings (regions, prefix, key, restore).
    sid       = "ReadFunctionSettings"
    actions   = ["lambda:GetFunctionConfiguration"]
    resources = [aws_lambda_function.this[0].arn]
  }

  statement {
    # The source database's portable settings and tags (source region), and the restored database,
    # which the command checks is new and follows with --wait (DR region).
    sid     = "DescribeDatabases"
    actions = ["rds:DescribeDBInstances", "rds:DescribeDBClusters"]
    resources = flatten([
      for arn in [local.source_rds_arn, local.destination_rds_arn] : ["${arn}:db:*", "${arn}:cluster:*"]
    ])
  }

  statement {
    # The DR copies to restore from (DescribeDBSnapshots takes db and snapshot, DescribeDBClusterSnapshots
    # cluster and cluster-snapshot).
    sid     = "DescribeDrCopies"
    actions = ["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"]
    resources = [
      "${local.destination_rds_arn}:db:*",
      "${local.destination_rds_arn}:snapshot:*",
      "${local.destination_rds_arn}:cluster:*",
      "${local.destination_rds_arn}:cluster-snapshot:*",
    ]
  }

  statement {
    # The command's checks before it restores anything: the subnet group exists (subgrp) and the
    # instance class is offered (no resource type: "*").
    sid       = "CheckRestoreTargets"
    actions   = ["rds:DescribeDBSubnetGroups"]
    resources = ["${local.destination_rds_arn}:subgrp:*"]
  }

  statement {
    sid       = "CheckInstanceClasses"
    actions   = ["rds:DescribeOrderableDBInstanceOptions"]
    resources = ["*"]
  }

  # RestoreDBInstanceFromDBSnapshot requires db, og, pg and subgrp and takes snapshot;
  # RestoreDBClusterFromSnapshot requires cluster, cluster-pg, og and subgrp and takes cluster-snapshot;
  # AWS authorizes each resource of a request on its own. The copy: only this instance's copies (its
  # exact names and its ownership tag, a condition key of the snapshot and cluster-snapshot types).
  statement {
    sid       = "RestoreFromOwnCopies"
    actions   = ["rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot"]
    resources = local.destination_snapshot_arns

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.owner_tag_key}"
      values   = [var.name]
    }
  }

  statement {
    # The new database and the DR region's groups it is placed in: the operator names them (the module's
    # `restore` settings, or the command's flags), so any of the DR region. An Aurora cluster's writer is
    # created after the cluster (CreateDBInstance: db, and the cluster it joins).
    sid     = "RestoreIntoTheDrRegion"
    actions = ["rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance"]
    resources = [
      for kind in ["db", "cluster", "og", "pg", "cluster-pg", "subgrp"] : "${local.destination_rds_arn}:${kind}:*"
    ]
  }

  statement {
    # The source's tags are given to the restored database on create: authorized as rds:AddTagsToResource
    # on the new database (RDS User Guide, "Grant permission to tag Amazon RDS resources during creation").
    sid     = "TagRestoredDatabases"
    actions = ["rds:AddTagsToResource"]
    resources = [
      "${local.destination_rds_arn}:db:*",
      "${local.destination_rds_arn}:cluster:*",
    ]
  }

  statement {
    # The command checks the key is enabled (kms:DescribeKey, directly).
    sid       = "CheckDestinationKey"
    actions   = ["kms:DescribeKey"]
    resources = [local.kms_key_arn]
  }

  statement {
    # Restoring an encrypted copy: RDS needs kms:CreateGrant and kms:DescribeKey from the caller on the
    # copy's key (RDS User Guide, "AWS KMS key management"), and uses it only for RDS.
    sid       = "UseDestinationKeyThroughRds"
    actions   = ["kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["rds.${local.destination_region}.amazonaws.com"]
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
      values   = ["rds.${local.destination_region}.amazonaws.com"]
    }
  }
}
