data "aws_region" "source" {}

data "aws_caller_identity" "source" {}

data "aws_partition" "source" {}

data "aws_region" "destination" {
  provider = aws.destination

  lifecycle {
    postcondition {
      condition     = self.name != data.aws_region.source.name
      error_message = "The aws.destination provider is configured for ${self.name}, the same region as the default (source) provider: copies in the same region are no disaster recovery. Point aws.destination at another region."
    }
  }
}

data "aws_caller_identity" "destination" {
  provider = aws.destination

  lifecycle {
    postcondition {
      condition     = self.account_id == data.aws_caller_identity.source.account_id
      error_message = "The aws.destination provider uses account ${self.account_id} but the default (source) provider uses account ${data.aws_caller_identity.source.account_id}: the function copies snapshots between regions of ONE account. Configure both providers with credentials of the same account."
    }
  }
}

locals {
  # The release of the module and its function (the VERSION file; lambda_src's __version__ equals it).
  module_version = trimspace(file("${path.module}/VERSION"))

  # Resource names: "<name>-rds-snapshot-dr[-suffix]"; name is at most 32 characters, so every
  # derived name stays inside IAM's 64-character limit.
  name = "${var.name}-rds-snapshot-dr"

  tags = merge(var.tags, {
    "rds-snapshot-dr:instance" = var.name
  })

  partition          = data.aws_partition.source.partition
  account_id         = data.aws_caller_identity.source.account_id
  source_region      = data.aws_region.source.name
  destination_region = data.aws_region.destination.name

  # The function's ARN, known at plan: policies that name it then show no "(known after apply)"
  # whenever the function itself changes.
  function_arn = "arn:${local.partition}:lambda:${local.source_region}:${local.account_id}:function:${local.name}"

  snapshot_prefix = coalesce(var.snapshot_prefix, "dr-${var.name}")
  owner_tag_key   = "rds-snapshot-dr:owner"

  # What is created follows create_kms_key, never the value of kms_key_arn: that ARN may be unknown
  # at plan (a key created in the same configuration), and count cannot depend on unknown values.
  kms_key_arn = var.create_kms_key ? module.destination_kms_key[0].key_arn : var.kms_key_arn

  # The function's settings: exactly the engine's settings contract, every value a string.
  # All but the key ARN are known at plan (the ARN of a created key is not).
  lambda_settings_known_at_plan = {
    SOURCE_REGION              = local.source_region
    DESTINATION_REGION         = local.destination_region
    SNAPSHOT_PREFIX            = local.snapshot_prefix
    OWNER_TAG_KEY              = local.owner_tag_key
    OWNER_TAG_VALUE            = var.name
    DB_INSTANCE_IDENTIFIERS    = join(",", var.db_instance_identifiers)
    DB_CLUSTER_IDENTIFIERS     = join(",", var.db_cluster_identifiers)
    SELECTION_TAGS             = jsonencode(var.selection_tags)
    SNAPSHOT_TAGS              = jsonencode(var.snapshot_tags)
    SOURCE_RETENTION_DAYS      = tostring(var.retention.source_days)
    DESTINATION_RETENTION_DAYS = tostring(var.retention.destination_days)
    KEEP_LAST                  = tostring(var.retention.keep_last)
    COPY_CONCURRENCY_LIMIT     = tostring(var.copy_concurrency_limit)
    COPY_MAX_ATTEMPTS          = tostring(var.copy_max_attempts)
    METRICS_NAMESPACE          = var.metrics_namespace
    TIME_BUDGET_RESERVE_MS     = tostring(var.time_budget_reserve_ms)
    BOTO_MAX_ATTEMPTS          = tostring(var.aws_api_max_attempts)
    BOTO_RETRY_MODE            = var.aws_api_retry_mode
    LOG_LEVEL                  = var.log_level
    BACKUP_SCHEDULE_EXPRESSION = var.schedule_expression
    # The budget is shared by the function's concurrent invocations; without a reservation (-1)
    # their number has no cap, and each invocation keeps to the whole budget.
    RDS_API_REQUESTS_PER_SECOND    = tostring(var.rds_api_requests_per_second)
    RDS_API_CONCURRENT_INVOCATIONS = tostring(max(1, var.lambda_reserved_concurrent_executions))
  }
  lambda_environment = merge(local.lambda_settings_known_at_plan, {
    DESTINATION_KMS_KEY_ARN = local.kms_key_arn
  })

  # Lambda allows 4 KB of environment variables. A created key's ARN is unknown at plan, so the
  # size counts the longest key ARN a partition can produce (128 characters) in its place, which
  # keeps the check at plan time.
  lambda_environment_size = length(jsonencode(merge(local.lambda_settings_known_at_plan, {
    DESTINATION_KMS_KEY_ARN = format("%0128d", 0)
  })))
}
