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
  # The create switch: every resource's count (moved.tf keeps addresses of earlier releases).
  create = var.create

  # The function's role: created here (create_role, the default) or brought by the caller (role_arn).
  # What is created follows create_role, never role_arn, which may be unknown at plan.
  create_role = local.create && var.create_role
  role_arn    = var.create_role ? one(aws_iam_role.lambda[*].arn) : var.role_arn
  # The role the key policy statements name. A missing role_arn is input_checks' to report (naming the
  # inputs), not the key modules' validations: no role, no statement.
  key_role_arns = var.create_role ? [local.role_arn] : compact([var.role_arn])

  # The function's log group, named as Lambda names it (lambda.tf creates it with retention).
  log_group_name = "/aws/lambda/${local.name}"

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

  # The copy-waiting schedule's ARN, built from its parts as function_arn is: the schedule's target is the
  # function, so the function's settings cannot refer to the schedule resource.
  copy_waiting_schedule_arn = "arn:${local.partition}:scheduler:${local.source_region}:${local.account_id}:schedule/${local.name}/${local.name}-copy-waiting"

  # The function's ARN, known at plan: policies that name it then show no "(known after apply)"
  # whenever the function itself changes.
  function_arn = "arn:${local.partition}:lambda:${local.source_region}:${local.account_id}:function:${local.name}"

  # The generated prefix carries the length of name ("dr5-orders" for "orders"), so no instance's
  # prefix plus "-" begins another instance's snapshot names: "dr3-crm-" never begins
  # "dr13-crm-reporting-...". (With "dr-<name>", "dr-crm-" began every name of "crm-reporting".)
  # The length ends at the first "-", which a name cannot start with, so the code is prefix-free.
  snapshot_prefix = coalesce(var.snapshot_prefix, "dr${length(var.name)}-${var.name}")
  # The tag keys the function writes, from the file the function itself reads (one source of truth).
  function_tag_keys = jsondecode(file("${path.module}/lambda_src/rds_snapshot_dr/rules/tag_keys.json"))
  owner_tag_key     = local.function_tag_keys.keys.owner

  # What is created follows create_kms_key, never the value of kms_key_arn: that ARN may be unknown
  # at plan (a key created in the same configuration), and count cannot depend on unknown values.
  kms_key_arn = local.create && var.create_kms_key ? module.destination_kms_key[0].key_arn : var.kms_key_arn

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
    OPTION_GROUP_MAPPING       = jsonencode(var.option_group_mapping)
    SOURCE_RETENTION_DAYS      = tostring(var.retention.source_days)
    DESTINATION_RETENTION_DAYS = tostring(var.retention.destination_days)
    KEEP_LAST                  = tostring(var.retention.keep_last)
    COPY_CONCURRENCY_LIMIT     = tostring(var.copy_concurrency_limit)
    COPY_MAX_ATTEMPTS          = tostring(var.copy_max_attempts)
    # Preflight warns, and sizes the quota it suggests, at the same percent the quota alarm fires.
    SNAPSHOT_QUOTA_ALARM_THRESHOLD = tostring(var.snapshot_quota_alarm_threshold)
    METRICS_NAMESPACE              = var.metrics_namespace
    TIME_BUDGET_RESERVE_MS         = tostring(var.time_budget_reserve_ms)
    BOTO_MAX_ATTEMPTS              = tostring(var.aws_api_max_attempts)
    BOTO_RETRY_MODE                = var.aws_api_retry_mode
    LOG_LEVEL                      = var.log_level
    BACKUP_SCHEDULE_EXPRESSION     = var.schedule_expression
    BACKUP_SCHEDULE_TIMEZONE       = var.schedule_timezone
    # The function switches the copy-waiting schedule on while copies wait and off when none do.
    COPY_WAITING_SCHEDULE_ARN = var.copy_waiting_schedule_expression != null ? local.copy_waiting_schedule_arn : ""
    # The budget is shared by the function's concurrent invocations; without a reservation (-1)
    # their number has no cap, and each invocation keeps to the whole budget.
    RDS_API_REQUESTS_PER_SECOND    = tostring(var.rds_api_requests_per_second)
    RDS_API_CONCURRENT_INVOCATIONS = tostring(max(1, var.lambda_reserved_concurrent_executions))
  }
  lambda_environment = merge(local.lambda_settings_known_at_plan, local.restore_environment, {
    DESTINATION_KMS_KEY_ARN = local.kms_key_arn
  })

  # What one RDS call may wait for its share of the budget, retries included (see input_checks).
  rate_budget_wait_ms = 1000 * var.aws_api_max_attempts * max(1, var.lambda_reserved_concurrent_executions) / var.rds_api_requests_per_second

  # Lambda allows 4 KB of environment variables. A created key's ARN is unknown at plan, so the
  # size counts the longest key ARN a partition can produce (128 characters) in its place, which
  # keeps the check at plan time.
  lambda_environment_size = length(jsonencode(merge(local.lambda_settings_known_at_plan, local.restore_environment, {
    DESTINATION_KMS_KEY_ARN = format("%0128d", 0)
  })))
}

################################################################################
# Checks of the ARNs passed in, against the providers' partition, account and regions
################################################################################

# An ARN known at plan is checked at plan. An ARN known only at apply (a key or topic created in the
# same configuration) is checked as soon as it exists: the function depends on this resource, so a
# wrong ARN stops the apply before the function, its schedules and its event rule exist.
resource "terraform_data" "input_checks" {
  count = local.create ? 1 : 0

  input = {
    role_arn        = var.role_arn
    kms_key_arn     = var.kms_key_arn
    sns_topic_arn   = var.sns_topic_arn
    log_kms_key_arn = var.log_kms_key_arn
  }

  lifecycle {
    # KMS keys are regional: a copy in the destination region can only use a key of that region
    # (RDS User Guide, "Copying a DB snapshot": the KMS key must be in the destination region).
    precondition {
      condition     = var.kms_key_arn == null || try(split(":", var.kms_key_arn)[3] == local.destination_region, false)
      error_message = "kms_key_arn is a key in ${try(split(":", var.kms_key_arn)[3], "no region")}, but copies are made in ${local.destination_region} (the aws.destination provider's region) and KMS keys cannot be used across regions. Pass a key in ${local.destination_region}, or set create_kms_key = true (and drop kms_key_arn) to have one created."
    }

    precondition {
      condition     = var.kms_key_arn == null || try(split(":", var.kms_key_arn)[1] == local.partition && split(":", var.kms_key_arn)[4] == local.account_id, false)
      error_message = "kms_key_arn must be a key of partition ${local.partition} and account ${local.account_id}, those of the providers: the function copies snapshots within one account."
    }

    # A CloudWatch alarm's actions must be in the alarm's region (CloudWatch API Reference,
    # PutMetricAlarm, AlarmActions): the alarms live in the source region.
    precondition {
      condition     = var.sns_topic_arn == null || try(split(":", var.sns_topic_arn)[3] == local.source_region && split(":", var.sns_topic_arn)[1] == local.partition, false)
      error_message = "sns_topic_arn is a topic in ${try(split(":", var.sns_topic_arn)[3], "no region")}, but the alarms are in ${local.source_region} (the default provider's region) and CloudWatch alarm actions must be in the alarm's region. Pass a topic of partition ${local.partition} in ${local.source_region}, or set create_sns_topic = true."
    }

    # CloudWatch Logs encrypts a log group only with a key in the log group's region.
    precondition {
      condition     = var.log_kms_key_arn == null || try(split(":", var.log_kms_key_arn)[3] == local.source_region && split(":", var.log_kms_key_arn)[1] == local.partition, false)
      error_message = "log_kms_key_arn is a key in ${try(split(":", var.log_kms_key_arn)[3], "no region")}, but the function's log group is in ${local.source_region}: pass a key of partition ${local.partition} in ${local.source_region}."
    }

    # Checks across inputs. A validation of one input that reads another reports "on line 0: (source code
    # not available)" when the input it belongs to was left at its default (a caller has no line for it),
    # and two inputs that check each other would form a cycle: so they are checked here, each naming every
    # input involved, its value and what to change.
    precondition {
      condition     = length(var.db_instance_identifiers) + length(var.db_cluster_identifiers) + length(var.selection_tags) > 0
      error_message = "Nothing to back up: db_instance_identifiers, db_cluster_identifiers and selection_tags are all empty. Set at least one of them."
    }

    precondition {
      condition     = !var.create_kms_key || var.kms_key_arn == null
      error_message = "kms_key_arn is set (${coalesce(var.kms_key_arn, "-")}) but create_kms_key is true: set create_kms_key = false to copy under that key, or remove kms_key_arn to have the module create one."
    }

    precondition {
      condition     = var.create_role || var.role_arn != null
      error_message = "create_role is false but role_arn is null: the function needs a role. Set role_arn to the ARN of your role (trusted by lambda.amazonaws.com, allowed what the output function_policy_json renders; docs/bring-your-own-role.md), or set create_role = true to have the module create one."
    }

    precondition {
      condition     = !var.create_role || var.role_arn == null
      error_message = "role_arn is set (${coalesce(var.role_arn, "-")}) but create_role is true: set create_role = false to run the function with that role, or remove role_arn to have the module create one."
    }

    # Lambda runs a function only with a role of its own account: CreateFunction with another account's
    # role is refused ("Cross-account pass role is not allowed"), and the role's policy names this account's
    # resources. Checked as soon as role_arn is known (at plan, unless it is a role created in the same apply).
    precondition {
      condition     = var.role_arn == null || try(split(":", var.role_arn)[1] == local.partition && split(":", var.role_arn)[4] == local.account_id, false)
      error_message = "role_arn must be a role of partition ${local.partition} and account ${local.account_id}, those of the providers (it is ${coalesce(var.role_arn, "-")}): a Lambda function runs only with a role of its own account. Pass a role of account ${local.account_id}."
    }

    precondition {
      condition     = !var.create_sns_topic || var.sns_topic_arn == null
      error_message = "sns_topic_arn is set (${coalesce(var.sns_topic_arn, "-")}) but create_sns_topic is true: set create_sns_topic = false to alarm to that topic, or remove sns_topic_arn to have the module create one."
    }

    precondition {
      condition     = var.rpo_alarm_period_seconds != null || local.reconcile_rate_seconds != null
      error_message = "reconcile_schedule_expression = \"${var.reconcile_schedule_expression}\" is not a rate(), so the module cannot derive the recovery-point alarm's period from it: set rpo_alarm_period_seconds to at least the time between two reconcile runs (a multiple of 60)."
    }

    precondition {
      condition     = var.time_budget_reserve_ms < var.lambda_timeout * 1000
      error_message = "time_budget_reserve_ms = ${var.time_budget_reserve_ms} is not less than lambda_timeout = ${var.lambda_timeout} s (${var.lambda_timeout * 1000} ms): the function would start no work at all. Lower time_budget_reserve_ms or raise lambda_timeout."
    }

    # One attempt waits at most 1/rate seconds for its token, one call with every retry
    # aws_api_max_attempts/rate: the reserve must cover that, or pacing could run past the timeout.
    precondition {
      condition     = var.time_budget_reserve_ms >= local.rate_budget_wait_ms
      error_message = "time_budget_reserve_ms = ${var.time_budget_reserve_ms} is less than one call may wait for its share of the RDS API budget: aws_api_max_attempts (${var.aws_api_max_attempts}) x reserved concurrency (${max(1, var.lambda_reserved_concurrent_executions)}) / rds_api_requests_per_second (${var.rds_api_requests_per_second}) = ${ceil(local.rate_budget_wait_ms)} ms. Raise time_budget_reserve_ms to at least that, raise rds_api_requests_per_second, or lower aws_api_max_attempts."
    }

    # The alarm fires when the newest copy is older than the threshold: below the time between two
    # backups it would fire before every backup round.
    precondition {
      condition     = local.backup_interval_hours == null ? true : var.rpo_alarm_threshold >= local.backup_interval_hours
      error_message = "rpo_alarm_threshold = ${var.rpo_alarm_threshold} h is below the ${try(format("%g", local.backup_interval_hours), "?")} h that pass on average between two backups of schedule_expression = \"${var.schedule_expression}\": the recovery-point alarm would fire before backup rounds. Set rpo_alarm_threshold to at least the longest time between two backups plus the snapshot and copy time (30 h for the daily default), or back up more often."
    }

    precondition {
      # try(): || does not short-circuit, and an account id has no partition to index.
      condition     = alltrue([for principal in var.kms_key_cross_account_principals : !startswith(principal, "arn:") || try(split(":", principal)[1] == local.partition, false)])
      error_message = "Every ARN in kms_key_cross_account_principals must be in partition ${local.partition}, that of the providers."
    }
  }
}
