################################################################################
# Restore drill (opt-in: var.restore_drill): schedule, state, permissions, alarms
################################################################################

locals {
  drill_enabled = var.restore_drill != null

  # Drill databases carry the tag rds-snapshot-dr:drill = <name> and exactly the names the drill gives
  # (restore.drill_identifier / writer_identifier): "drill-<name>-<YYYYMMDDHHMM>" for the restored instance
  # or cluster, "drill-<name>-<YYYYMMDDHHMM>-w" for an Aurora cluster's writer. IAM's "?" matches exactly
  # one character, so the patterns below match only names of that length: "drill-<name>-*" would also
  # match a person's "drill-<name>-reporting" (and the drill databases of an instance named
  # "<name>-reporting"), which the role could then tag and delete. A drill database name has 12 stamp
  # characters after "drill-<name>-", so no other module instance's drill names match these patterns (a
  # longer name must start "<name>-" and leaves fewer than 12 characters for the stamp; the writer's "-w"
  # never falls on digits). What "?" cannot tell apart: a person's database of exactly that length, such as
  # "drill-<name>-abcdefghijkl" (docs/iam.md).
  drill_prefix        = "drill-${var.name}-"
  drill_name          = "${local.drill_prefix}????????????"
  drill_tag_key       = local.function_tag_keys.keys.drill
  drill_instance_arns = ["${local.destination_rds_arn}:db:${local.drill_name}"]
  drill_writer_arns   = ["${local.destination_rds_arn}:db:${local.drill_name}-w"]
  drill_cluster_arns  = ["${local.destination_rds_arn}:cluster:${local.drill_name}"]

  # The DR copies a drill restores from (this instance's snapshots only).
  drill_instance_snapshot_arns = ["${local.destination_rds_arn}:snapshot:${local.snapshot_prefix}-*"]
  drill_cluster_snapshot_arns  = ["${local.destination_rds_arn}:cluster-snapshot:${local.snapshot_prefix}-*"]

  # The groups a drill restores into: only those the drill passes (core/settings.py: the drill's subnet group,
  # else restore's; restore's parameter and option groups), or, where it passes none, the one RDS then uses
  # and authorizes (RDS API Reference, RestoreDBInstanceFromDBSnapshot, RestoreDBClusterFromSnapshot and
  # CreateDBInstance, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBInstanceFromDBSnapshot.html):
  # - subnet group: the account's "default" (the default VPC's; a DB subnet group you create "must not be
  #   default", CreateDBSubnetGroup);
  # - parameter groups: the engine's default, "default.<family>" (a parameter group you create has only
  #   letters, digits and hyphens, CreateDBParameterGroup, so "default.*" matches only RDS's own);
  # - option group: the engine's default, "default:<engine>-<major>" (":" is never in a name you give,
  #   CreateOptionGroup). A cross-region copy made without OptionGroupName (the function names none) has the
  #   default option group, and a cluster restore names none: "DB clusters are associated with a default
  #   option group that can't be modified" (RestoreDBClusterFromSnapshot).
  drill_subnet_group = coalesce(try(var.restore_drill.db_subnet_group_name, null), var.restore.db_subnet_group_name, "default")
  drill_groups = {
    subgrp     = "${local.destination_rds_arn}:subgrp:${local.drill_subnet_group}"
    og         = "${local.destination_rds_arn}:og:${coalesce(var.restore.option_group_name, "default:*")}"
    og_default = "${local.destination_rds_arn}:og:default:*"
    pg         = "${local.destination_rds_arn}:pg:${coalesce(var.restore.db_parameter_group_name, "default.*")}"
    cluster_pg = "${local.destination_rds_arn}:cluster-pg:${coalesce(var.restore.db_cluster_parameter_group_name, "default.*")}"
  }
  drill_group_arns = {
    instance = [local.drill_groups.subgrp, local.drill_groups.og, local.drill_groups.pg]
    cluster  = [local.drill_groups.subgrp, local.drill_groups.og_default, local.drill_groups.cluster_pg]
    # The writer names only its parameter group (CreateDBInstance: subgrp and og are optional resource types,
    # and an Aurora instance takes the cluster's); the cluster's subnet group and default option group are
    # listed so that an authorization of the group the writer inherits is within the drill's own, too.
    writer = [local.drill_groups.subgrp, local.drill_groups.og_default, local.drill_groups.pg]
  }

  drill_state_parameter = "/rds-snapshot-dr/${var.name}/drill"

  # The function's restore settings (only set when used, so a module without them keeps its environment).
  restore_settings = {
    db_subnet_group_name            = var.restore.db_subnet_group_name
    vpc_security_group_ids          = var.restore.vpc_security_group_ids
    db_parameter_group_name         = var.restore.db_parameter_group_name
    db_cluster_parameter_group_name = var.restore.db_cluster_parameter_group_name
    option_group_name               = var.restore.option_group_name
  }
  restore_is_default = alltrue([
    var.restore.db_subnet_group_name == null,
    length(var.restore.vpc_security_group_ids) == 0,
    var.restore.db_parameter_group_name == null,
    var.restore.db_cluster_parameter_group_name == null,
    var.restore.option_group_name == null,
  ])
  restore_environment = merge(
    local.restore_is_default ? {} : { RESTORE_SETTINGS = jsonencode(local.restore_settings) },
    local.drill_enabled ? {
      DRILL_SETTINGS = jsonencode({
        databases              = var.restore_drill.databases
        instance_class         = var.restore_drill.instance_class
        db_subnet_group_name   = var.restore_drill.db_subnet_group_name
        vpc_security_group_ids = var.restore_drill.vpc_security_group_ids
        max_lifetime_minutes   = var.restore_drill.max_lifetime_minutes
        overdue_days           = var.restore_drill.overdue_days
        state_parameter        = local.drill_state_parameter
        schedule_expression    = var.restore_drill.schedule_expression
      })
    } : {},
  )
}

# What the drill remembers between runs: each database's last successful drill and its time to restore
# (the rotation and the overdue alarm read it). The function writes the value; Terraform only creates it.
# The function drops the records of databases that are no longer drill candidates and writes the value
# with Tier = Intelligent-Tiering: a standard parameter (free, 4 KB: about 70 databases of 20-character
# names) that becomes an advanced one (8 KB, charged per parameter-month) only when the fleet outgrows
# 4 KB; past 8 KB it reports a failure naming the fix. Terraform ignores the tier the function chose.
resource "aws_ssm_parameter" "drill_state" {
  #checkov:skip=CKV2_AWS_34:The value is a list of database names and dates, nothing secret; a SecureString would need a KMS key for no gain.
  count = local.create && local.drill_enabled ? 1 : 0

  name        = local.drill_state_parameter
  description = "rds-snapshot-dr ${var.name}: restore drill state (written by the function)."
  type        = "String"
  value       = "{}"
  tags        = local.tags

  lifecycle {
    ignore_changes = [value, tier]
  }
}

resource "aws_scheduler_schedule" "drill" {
  #checkov:skip=CKV_AWS_297:The schedule's input is {"action":"drill"}, nothing secret; Scheduler encrypts it with an AWS owned key.
  count = local.create && local.drill_enabled ? 1 : 0

  name        = "${local.name}-drill"
  group_name  = aws_scheduler_schedule_group.this[0].name
  description = "rds-snapshot-dr ${var.name}: restore the newest DR copy of the next database in ${local.destination_region}; reconcile measures and deletes it."

  schedule_expression          = var.restore_drill.schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 15
  }

  target {
    arn      = aws_lambda_function.this[0].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ action = "drill" })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter[0].arn
    }
  }
}

# The drill's permissions, in their own policy so the base policy stays as it is without a drill.
data "aws_iam_policy_document" "drill" {
  count = local.create && local.drill_enabled ? 1 : 0

  # Creation: only a database with the drill's name AND the drill's tag in the request, in the drill's
  # subnet group with its parameter and option groups. Resource types per action, and aws:RequestTag/<key>
  # on each of the three, from the Service Authorization Reference ("Actions, resources, and condition keys
  # for Amazon RDS", https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html):
  # RestoreDBInstanceFromDBSnapshot: db*, og*, pg*, subgrp*, snapshot; RestoreDBClusterFromSnapshot:
  # cluster*, cluster-pg*, og*, subgrp*, cluster-snapshot; CreateDBInstance (an Aurora writer): db*,
  # cluster, og, pg, subgrp (and secgrp: the EC2-Classic DB security group, which no drill names; VPC
  # security groups are EC2's). The DR copy is only this instance's snapshots.
  # rds:PubliclyAccessible (Bool) is a condition key of RestoreDBInstanceFromDBSnapshot and CreateDBInstance,
  # not of RestoreDBClusterFromSnapshot (same reference): the role may create a drill instance only when the
  # request says PubliclyAccessible = false. A condition key the request leaves out never matches, so the
  # drill passes it on every instance it creates (restore.plan_restore); a cluster has no endpoint of its
  # own that could be public, its instances (the writer) do.
  statement {
    sid       = "RestoreDrillInstances"
    actions   = ["rds:RestoreDBInstanceFromDBSnapshot"]
    resources = concat(local.drill_instance_arns, local.drill_instance_snapshot_arns, local.drill_group_arns.instance)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.drill_tag_key}"
      values   = [var.name]
    }

    condition {
      test     = "Bool"
      variable = "rds:PubliclyAccessible"
      values   = ["false"]
    }
  }

  statement {
    sid       = "RestoreDrillClusters"
    actions   = ["rds:RestoreDBClusterFromSnapshot"]
    resources = concat(local.drill_cluster_arns, local.drill_cluster_snapshot_arns, local.drill_group_arns.cluster)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.drill_tag_key}"
      values   = [var.name]
    }
  }

  statement {
    sid       = "CreateDrillWriters"
    actions   = ["rds:CreateDBInstance"]
    resources = concat(local.drill_writer_arns, local.drill_cluster_arns, local.drill_group_arns.writer)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.drill_tag_key}"
      values   = [var.name]
    }

    condition {
      test     = "Bool"
      variable = "rds:PubliclyAccessible"
      values   = ["false"]
    }
  }

  # Tags on create are authorised again as rds:AddTagsToResource on the new database.
  statement {
    sid       = "TagDrillDatabases"
    actions   = ["rds:AddTagsToResource"]
    resources = concat(local.drill_instance_arns, local.drill_writer_arns, local.drill_cluster_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.drill_tag_key}"
      values   = [var.name]
    }
  }

  # Deletion: only databases with the drill's name AND its tag. rds:db-tag/<key> applies to DB instances
  # and rds:cluster-tag/<key> to DB clusters (RDS User Guide, "Specifying conditions: Using custom tags",
  # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAM.SpecifyingCustomTags.html;
  # Service Authorization Reference, "Actions, resources, and condition keys for Amazon RDS": resource
  # types db and cluster, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html).
  statement {
    sid       = "DeleteDrillInstances"
    actions   = ["rds:DeleteDBInstance"]
    resources = concat(local.drill_instance_arns, local.drill_writer_arns)

    condition {
      test     = "StringEquals"
      variable = "rds:db-tag/${local.drill_tag_key}"
      values   = [var.name]
    }
  }

  statement {
    sid       = "DeleteDrillClusters"
    actions   = ["rds:DeleteDBCluster"]
    resources = local.drill_cluster_arns

    condition {
      test     = "StringEquals"
      variable = "rds:cluster-tag/${local.drill_tag_key}"
      values   = [var.name]
    }
  }

  # The drill lists the DR region's databases to find its own (in flight, to finish, or to delete):
  # DescribeDBInstances takes db, DescribeDBClusters cluster, both optional (reference). Read-only. Without
  # it the listing is denied, and a drill that cannot see its databases must not start another.
  statement {
    sid     = "SeeDrillDatabases"
    actions = ["rds:DescribeDBInstances", "rds:DescribeDBClusters"]
    resources = [
      "${local.destination_rds_arn}:db:*",
      "${local.destination_rds_arn}:cluster:*",
    ]
  }

  statement {
    sid       = "KeepDrillState"
    actions   = ["ssm:GetParameter", "ssm:PutParameter"]
    resources = ["arn:${local.partition}:ssm:${local.source_region}:${local.account_id}:parameter${local.drill_state_parameter}"]
  }
}

resource "aws_iam_role_policy" "drill" {
  count = local.create_role && local.drill_enabled ? 1 : 0

  name   = "${local.name}-drill"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.drill[0].json
}

resource "aws_cloudwatch_metric_alarm" "drill_failures" {
  count = local.create && local.drill_enabled ? 1 : 0

  alarm_name        = "${local.name}-drill-failures"
  alarm_description = "rds-snapshot-dr ${var.name}: a restore drill in ${local.destination_region} failed (not available within ${var.restore_drill.max_lifetime_minutes} minutes, or ended in a failed state) and was deleted. The function's log names the database, the DR copy and the reason; restore that copy with the restore command to see why."

  namespace   = var.metrics_namespace
  metric_name = "DrillFailures"
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

resource "aws_cloudwatch_metric_alarm" "drill_overdue" {
  count = local.create && local.drill_enabled ? 1 : 0

  alarm_name        = "${local.name}-drill-overdue"
  alarm_description = "rds-snapshot-dr ${var.name}: at least one database has had no successful restore drill for ${var.restore_drill.overdue_days} days, or reconcile stopped reporting. Its DR copy is not proven restorable: check the drill-failures alarm and the function's log."

  namespace   = var.metrics_namespace
  metric_name = "DrillOverdueDatabases"
  dimensions  = local.module_instance_dimension
  statistic   = "Maximum"
  period      = local.rpo_alarm_period_seconds

  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  # Silence is an alarm: reconcile publishes the count on every run while the drill is on.
  treat_missing_data = "breaching"

  alarm_actions = [local.sns_topic_arn]
  ok_actions    = [local.sns_topic_arn]
  tags          = local.tags
}
