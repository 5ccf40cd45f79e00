################################################################################
# Identity
################################################################################

variable "create" {
  description = "Whether the module creates anything. false = it creates nothing and every output is null (ARNs, names) or empty, for switching a module block off in some environments without removing it. Turning it off on a deployed instance destroys the function, schedules, alarms, dashboard and a created key (scheduled for deletion); the snapshots stay (see \"Removing the module and what survives\" in the README). It sets the count of every resource, so it must be known at plan: a literal or a variable, not a value computed from resources in the same apply."
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Name of this module instance: lowercase letters, digits and hyphens, starting with a letter, at most 32 characters. It names every resource the module creates and is the value of the `rds-snapshot-dr:owner` tag that marks the snapshots this instance owns (and may delete). Changing it orphans existing snapshots: they are no longer pruned by this instance."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,31}$", var.name)) && !strcontains(var.name, "--") && !endswith(var.name, "-")
    error_message = "name must be 1 to 32 characters: a lowercase letter first, then lowercase letters, digits or single hyphens, not ending with a hyphen (for example \"orders\")."
  }
}

################################################################################
# What to back up
################################################################################

variable "db_instance_identifiers" {
  description = "Identifiers of the RDS DB instances to snapshot, in the source region (the default `aws` provider). May be empty when `db_cluster_identifiers` or `selection_tags` name the targets."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for id in var.db_instance_identifiers :
      can(regex("^[A-Za-z][A-Za-z0-9-]{0,62}$", id)) && !strcontains(id, "--") && !endswith(id, "-")
    ])
    error_message = "Every entry of db_instance_identifiers must be a valid DB instance identifier: 1 to 63 letters, digits or hyphens, starting with a letter, with no two consecutive hyphens and no trailing hyphen."
  }

  validation {
    condition     = length(var.db_instance_identifiers) == length(distinct([for id in var.db_instance_identifiers : lower(id)]))
    error_message = "db_instance_identifiers lists the same DB instance twice (identifiers are case-insensitive): remove the duplicate."
  }
}

variable "db_cluster_identifiers" {
  description = "Identifiers of the Aurora DB clusters to snapshot, in the source region. May be empty when `db_instance_identifiers` or `selection_tags` name the targets."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([
      for id in var.db_cluster_identifiers :
      can(regex("^[A-Za-z][A-Za-z0-9-]{0,62}$", id)) && !strcontains(id, "--") && !endswith(id, "-")
    ])
    error_message = "Every entry of db_cluster_identifiers must be a valid DB cluster identifier: 1 to 63 letters, digits or hyphens, starting with a letter, with no two consecutive hyphens and no trailing hyphen."
  }

  validation {
    condition     = length(var.db_cluster_identifiers) == length(distinct([for id in var.db_cluster_identifiers : lower(id)]))
    error_message = "db_cluster_identifiers lists the same DB cluster twice (identifiers are case-insensitive): remove the duplicate."
  }

  validation {
    # RDS caps DB cluster snapshot identifiers at 63 characters (DB snapshots at 255):
    # <prefix> + "-" + <cluster id> + "-YYYYMMDD-HHMM" (14) must fit.
    condition = alltrue([
      for id in var.db_cluster_identifiers :
      length(coalesce(var.snapshot_prefix, "dr${length(var.name)}-${var.name}")) + 1 + length(id) + 14 <= 63
    ])
    error_message = "A cluster snapshot name (<snapshot_prefix>-<cluster id>-YYYYMMDD-HHMM) would pass the 63-character limit of RDS cluster snapshot identifiers: use a shorter snapshot_prefix (or name, from which it defaults)."
  }
}

variable "selection_tags" {
  description = "Tags (key = value) that select targets: every DB instance and Aurora cluster in the source region carrying ALL of these tags is snapshotted too, in addition to the identifiers listed. Empty map = no tag selection."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for key, value in var.selection_tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256])
    error_message = "selection_tags keys must be 1 to 128 characters and values at most 256 characters, as RDS tags are."
  }
}

################################################################################
# Snapshots
################################################################################

variable "snapshot_prefix" {
  description = "Prefix of every snapshot name (`<prefix>-<database>-<YYYYMMDD>-<HHMM>`, the same in both regions). Only snapshots with exactly this name shape AND this instance's owner tag are ever deleted. null = \"dr<length of name>-<name>\" (\"dr6-orders\" for name \"orders\"), which no other instance's prefix begins. A prefix you choose must not be \"dr<digits>\" or start with \"dr<digits>-\" (reserved for generated prefixes), and no two instances in the same account and regions may use prefixes where one plus \"-\" begins the other's snapshot names (\"crm\" and \"crm-reporting\" overlap): the module cannot see other instances."
  type        = string
  default     = null

  validation {
    condition     = var.snapshot_prefix == null || (can(regex("^[a-z][a-z0-9-]*$", var.snapshot_prefix)) && !strcontains(coalesce(var.snapshot_prefix, "x"), "--") && !endswith(coalesce(var.snapshot_prefix, "x"), "-"))
    error_message = "snapshot_prefix must start with a lowercase letter and contain only lowercase letters, digits and single hyphens, not ending with a hyphen (RDS snapshot identifier rules)."
  }

  validation {
    # Generated prefixes are "dr<length of name>-<name>": a prefix of that shape belongs to the module
    # instance with that name, and another instance using it would share its snapshot names. "dr<digits>"
    # alone is refused too: its pattern "dr6-*-????????-????" covers every snapshot of every instance whose
    # name has 6 characters ("dr6-orders-..."), so its role could tag theirs.
    condition     = var.snapshot_prefix == null || !can(regex("^dr[0-9]+(-|$)", coalesce(var.snapshot_prefix, "x"))) || var.snapshot_prefix == "dr${length(var.name)}-${var.name}"
    error_message = "snapshot_prefix must not be \"dr<digits>\" or start with \"dr<digits>-\": that shape is reserved for the prefixes the module generates (\"dr<length of name>-<name>\"), and another instance's snapshots would match yours. Choose another prefix, or leave snapshot_prefix null."
  }

  validation {
    # <prefix> + "-" + up to 63 (longest DB identifier) + "-YYYYMMDD-HHMM" (14) must fit in 255;
    # the engine's contract caps the prefix at 100 characters, well inside that.
    condition     = var.snapshot_prefix == null || length(coalesce(var.snapshot_prefix, "x")) <= 100
    error_message = "snapshot_prefix is longer than 100 characters: snapshot names (<prefix>-<63-character database id>-YYYYMMDD-HHMM) would pass the 255-character limit of RDS snapshot identifiers. Use a shorter prefix."
  }
}

variable "snapshot_tags" {
  description = "Extra tags put on every snapshot and copy, on top of the module's own `rds-snapshot-dr:*` tags."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for key in keys(var.snapshot_tags) : !startswith(key, "rds-snapshot-dr:") && !startswith(lower(key), "aws:")])
    error_message = "snapshot_tags must not use keys starting with \"rds-snapshot-dr:\" (reserved for the module's ownership tags) or \"aws:\" (reserved by AWS)."
  }

  validation {
    condition     = alltrue([for key, value in var.snapshot_tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256])
    error_message = "snapshot_tags keys must be 1 to 128 characters and values at most 256 characters, as RDS tags are."
  }
}

variable "option_group_mapping" {
  description = "For DB instances with a non-default option group (Oracle or SQL Server with TDE, Oracle native network encryption or timezone, ...): source option group name => the option group in the destination region each copy gets. RDS copies such a snapshot to another region only with an option group there (`OptionGroupName`); an option group belongs to its region, so create one in the destination region with the same engine, major version and options. A snapshot whose option group is neither default nor mapped is not copied: its copy fails on every run naming the group to map, and preflight fails the database. Empty = every instance uses a default option group (`default:...`). Aurora clusters take none."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    # RDS: 1 to 255 letters, numbers or hyphens; first a letter; no hyphen at the end or twice in a row.
    condition     = alltrue([for name in concat(keys(var.option_group_mapping), values(var.option_group_mapping)) : can(regex("^[A-Za-z](-?[A-Za-z0-9])*$", name)) && length(name) <= 255])
    error_message = "option_group_mapping names option groups as RDS allows them: 1 to 255 letters, numbers or hyphens, starting with a letter, not ending with a hyphen nor holding two in a row. Default option groups (default:...) need no mapping."
  }
}

variable "destination_option_groups" {
  description = "Option groups the module creates in the destination region, by name, for `option_group_mapping` to name: each with the source group's engine (`oracle-ee`, `sqlserver-ee`, ...), major engine version and options (for TDE: `TDE` on Oracle, `TRANSPARENT_DATA_ENCRYPTION` on SQL Server; settings by name). Options bound to source-region resources (security groups, an S3 bucket, a directory) are not copied: give the DR region's own. A TDE option is permanent: RDS does not let it be removed from the group, nor the group from a database restored with it. Empty = none (groups made elsewhere are named in `option_group_mapping` directly)."
  type = map(object({
    engine_name          = string
    major_engine_version = string
    options = optional(list(object({
      option_name = string
      settings    = optional(map(string), {})
    })), [])
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.destination_option_groups) : can(regex("^[A-Za-z](-?[A-Za-z0-9])*$", name)) && length(name) <= 255])
    error_message = "destination_option_groups names option groups as RDS allows them: 1 to 255 letters, numbers or hyphens, starting with a letter, not ending with a hyphen nor holding two in a row."
  }
}

variable "retention" {
  description = "How long owned snapshots are kept, in days, in each region (`source_days`, default 2; `destination_days`, default 14), and how many of the newest available snapshots of each database are kept in each region whatever their age (`keep_last`, default 1). A source snapshot is never deleted before its copy is available, so `source_days` may not exceed `destination_days`. The source keeps 2 days by default: its snapshots are needed until their copy is available and for a fast restore in the same region, and every one counts against the region's manual snapshot quota (see `manual_snapshot_quota`)."
  type = object({
    source_days      = optional(number, 2)
    destination_days = optional(number, 14)
    keep_last        = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for value in [var.retention.source_days, var.retention.destination_days, var.retention.keep_last] :
      value != null && value >= 1 && floor(coalesce(value, 0)) == value
    ])
    error_message = "retention.source_days, retention.destination_days and retention.keep_last must be whole numbers of at least 1 (a retention of 0 would delete snapshots as soon as they exist)."
  }

  validation {
    condition     = try(var.retention.source_days <= var.retention.destination_days, true)
    error_message = "retention.source_days must not exceed retention.destination_days: a source snapshot is deleted only once its copy is available in the destination region, and a copy kept for fewer days than its source would be gone before the source expires, so no source would ever be deleted and the manual snapshot quota would fill. Keep longer history in the source region with RDS automated backups (up to 35 days)."
  }
}

variable "manual_snapshot_quota" {
  description = "The manual snapshot quotas of the account, per region, for DB instance snapshots (`instance`, Service Quotas code L-272F1212) and DB cluster snapshots (`cluster`, L-9B510759); AWS's default is 100 each. Give the lower value of the two regions. At plan, a check warns when the databases named in `db_instance_identifiers` / `db_cluster_identifiers` would hold more snapshots than this in steady state (databases selected by tag are counted by the preflight action, against the real quota and what others already use)."
  type = object({
    instance = optional(number, 100)
    cluster  = optional(number, 100)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for value in [var.manual_snapshot_quota.instance, var.manual_snapshot_quota.cluster] :
      value != null && value >= 1 && floor(coalesce(value, 0)) == value
    ])
    error_message = "manual_snapshot_quota.instance and manual_snapshot_quota.cluster must be whole numbers of at least 1 (the quota values shown in the Service Quotas console)."
  }
}

################################################################################
# Schedules
################################################################################

variable "schedule_expression" {
  description = "When backups run: an EventBridge Scheduler expression, `rate(...)`, `cron(...)` (six fields) or `at(...)`, evaluated in `schedule_timezone`. Default: every day at 03:00."
  type        = string
  default     = "cron(0 3 * * ? *)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\([^ ()]+( [^ ()]+){5}\\)|at\\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\))$", var.schedule_expression))
    error_message = "schedule_expression must be rate(<n> minutes|hours|days), cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) or at(yyyy-mm-ddThh:mm:ss), for example \"cron(0 3 * * ? *)\"."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone in which `schedule_expression` is evaluated, for example \"Europe/Berlin\". Snapshot names always use UTC."
  type        = string
  default     = "UTC"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", var.schedule_timezone))
    error_message = "schedule_timezone must be an IANA time zone name such as \"UTC\" or \"Europe/Berlin\"."
  }
}

variable "reconcile_schedule_expression" {
  description = "When the reconcile pass runs (copies what events missed, prunes, publishes the recovery-point age): `rate(...)` or `cron(...)`. It also sets the period of the recovery-point alarm when it is a rate (see `rpo_alarm_period_seconds`). At most once a day."
  type        = string
  default     = "rate(1 hour)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\([^ ()]+( [^ ()]+){5}\\))$", var.reconcile_schedule_expression))
    error_message = "reconcile_schedule_expression must be rate(<n> minutes|hours|days) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>), for example \"rate(1 hour)\"."
  }

  validation {
    # CloudWatch alarms on a metric cannot look further back than one day per period.
    condition = !can(regex("^rate\\(", var.reconcile_schedule_expression)) || try(
      tonumber(regex("^rate\\(([0-9]+) ", var.reconcile_schedule_expression)[0]) * lookup({ minute = 60, hour = 3600, day = 86400 }, trimsuffix(regex(" ([a-z]+)\\)$", var.reconcile_schedule_expression)[0], "s")) <= 86400,
      false
    )
    error_message = "reconcile_schedule_expression must run at least once a day: the recovery-point alarm's period follows it and CloudWatch allows at most one day."
  }
}

variable "copy_waiting_schedule_expression" {
  description = "When the function starts the cross-region copies that wait for a free copy slot: `rate(...)` or `cron(...)`. RDS announces no finished Aurora cluster snapshot copy and delivers its instance copy events on a best-effort basis, so without this a freed slot waits for the next reconcile run; with a backlog (a large fleet, or after an outage) that leaves slots idle. Each run lists this instance's source snapshots and looks their copies up by name (no destination listing, unless the destination's manual snapshot quota refuses a copy: then it prunes there and retries once, as reconcile does). The function switches this schedule on while copies wait or snapshots are being made (the backup run; a reconcile that finds copies waiting) and off when a run finds none (Terraform leaves its state to the function), so it runs for the hours after each backup round rather than all day. null = no such schedule (freed cluster slots then wait for reconcile)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = var.copy_waiting_schedule_expression == null || can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours)\\)|cron\\([^ ()]+( [^ ()]+){5}\\))$", coalesce(var.copy_waiting_schedule_expression, "-")))
    error_message = "copy_waiting_schedule_expression must be null, rate(<n> minutes|hours) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>), for example \"rate(5 minutes)\"."
  }
}

################################################################################
# Destination KMS key
################################################################################

variable "create_kms_key" {
  description = "Whether the module creates the destination KMS key (through modules/destination-kms-key). false = bring an existing key in `kms_key_arn`; the module creates nothing on it: its key policy must delegate to IAM (KMS's default key policy) or name the function's role (output `kms_key_policy_statements`). Decides what is created (a `count`), so it MUST be known at plan: a literal or a variable, never an expression over attributes of resources. Unknown at plan, Terraform stops with its generic \"Invalid count argument\" pointing at this module's key; the module cannot replace that message."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = var.create_kms_key || var.kms_key_arn != null
    error_message = "create_kms_key = false needs kms_key_arn: pass the ARN of the existing key in the destination region, or set create_kms_key = true to have the module create one."
  }
}

variable "kms_key_arn" {
  description = "ARN of the existing KMS key in the destination region to encrypt every copy with, when `create_kms_key` is false (its key policy must delegate to IAM or carry the statements of the output `kms_key_policy_statements`; the module creates no grant). null = no existing key (`create_kms_key` must be true). Must be a key ARN (not an alias) of the providers' partition and account in the region of the `aws.destination` provider: checked at plan when known, else at apply before the function is created. May be unknown at plan (a key created in the same configuration)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (alias ARNs and key ids are not accepted)."
  }
}

variable "kms_key_cross_account_principals" {
  description = "AWS account ids or IAM principal ARNs of other accounts allowed to use the created destination key (to copy or restore snapshots shared with them). Only for the key the module creates (`create_kms_key` = true): for an existing key, edit that key's policy instead. Empty = none."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for principal in var.kms_key_cross_account_principals : can(regex("^([0-9]{12}|arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+))$", principal))])
    error_message = "Every entry of kms_key_cross_account_principals must be a 12-digit account id or an IAM ARN like arn:aws:iam::111122223333:root or arn:aws:iam::111122223333:role/name."
  }

  validation {
    condition     = var.create_kms_key || length(var.kms_key_cross_account_principals) == 0
    error_message = "kms_key_cross_account_principals only applies to the key the module creates; with create_kms_key = false, grant the other accounts in the existing key's own policy and leave this list empty."
  }
}

################################################################################
# Alarms and notification
################################################################################

variable "create_sns_topic" {
  description = "Whether the module creates the alarm topic and its KMS key. false = bring an existing topic in `sns_topic_arn`. Decides what is created (a `count`), so it MUST be known at plan: a literal or a variable, never an expression over attributes of resources (else Terraform's generic \"Invalid count argument\")."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = var.create_sns_topic || var.sns_topic_arn != null
    error_message = "create_sns_topic = false needs sns_topic_arn: pass the ARN of the existing alarm topic in the source region, or set create_sns_topic = true to have the module create one."
  }
}

variable "sns_topic_arn" {
  description = "ARN of the existing SNS topic in the source region (CloudWatch alarm actions must be in the alarm's region; checked at plan when known, else at apply before the function) for the alarms, when `create_sns_topic` is false. Its encryption key must let cloudwatch.amazonaws.com use it and its policy must let CloudWatch alarms publish. null = no existing topic (`create_sns_topic` must be true). May be unknown at plan (a topic created in the same configuration)."
  type        = string
  default     = null

  validation {
    condition     = var.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", coalesce(var.sns_topic_arn, "x")))
    error_message = "sns_topic_arn must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:alerts."
  }
}

variable "alarm_email_addresses" {
  description = "Email addresses subscribed to the alarm topic (created or passed in). Each address must confirm the subscription from the email AWS sends. The addresses key the subscriptions, so they must be known at plan (literals or variables, not attributes of resources)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for address in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "Every entry of alarm_email_addresses must be an email address like team@example.com."
  }
}

variable "rpo_alarm_threshold" {
  description = "Recovery point objective, in HOURS: the alarm fires when the newest available copy of any database in the destination region is older than this. Leave room for one backup interval plus snapshot and copy time (default 30 h for daily backups); a threshold below the time between two backups of `schedule_expression` fails at plan, since the alarm would fire before every round."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.rpo_alarm_threshold > 0 && var.rpo_alarm_threshold <= 8760
    error_message = "rpo_alarm_threshold is in hours and must be greater than 0 and at most 8760 (one year)."
  }
}

variable "rpo_alarm_period_seconds" {
  description = "Period of the recovery-point alarm, in seconds (multiple of 60, at most 86400). It must be at least the reconcile interval, since the metric is published once per reconcile run and a period without data counts as breaching. null = the interval of a `rate()` reconcile expression (required when that expression is a `cron()`)."
  type        = number
  default     = null

  validation {
    condition     = var.rpo_alarm_period_seconds == null || try(var.rpo_alarm_period_seconds >= 60 && var.rpo_alarm_period_seconds <= 86400 && var.rpo_alarm_period_seconds % 60 == 0, false)
    error_message = "rpo_alarm_period_seconds must be a multiple of 60 between 60 and 86400."
  }
}

variable "snapshot_quota_alarm_threshold" {
  description = "Percent of the manual snapshot quota (per region, for instances and for clusters) above which an alarm fires, before RDS refuses new snapshots with SnapshotQuotaExceeded."
  type        = number
  default     = 80
  nullable    = false

  validation {
    condition     = var.snapshot_quota_alarm_threshold > 0 && var.snapshot_quota_alarm_threshold <= 100
    error_message = "snapshot_quota_alarm_threshold is a percentage and must be greater than 0 and at most 100."
  }
}

variable "create_dashboard" {
  description = "Whether the module creates a CloudWatch dashboard named like the function: recovery-point age against the RPO (worst database, and per database from the function's log), copies started/deferred/failed, snapshot quota use per region and kind, target failures, function errors and dead letters. false = no dashboard."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Engine tuning
################################################################################

variable "rds_api_requests_per_second" {
  description = "The RDS API budget of this module instance, in requests per second in each region: the function never sends more, across backup, reconcile and snapshot events, retries included. It is split evenly among `lambda_reserved_concurrent_executions` concurrent invocations (with -1, no reservation, each invocation gets all of it). RDS allows each account 12 requests per second sustained per region, shared with Terraform, the console and every other tool; the default takes a third of that. A backup round of N databases takes at least about N / (this / reserved concurrency) seconds."
  type        = number
  default     = 4
  nullable    = false

  validation {
    condition     = var.rds_api_requests_per_second > 0 && var.rds_api_requests_per_second <= 12
    error_message = "rds_api_requests_per_second must be greater than 0 and at most 12, the sustained RDS API rate of a whole account and region (a budget above it would be throttled)."
  }
}

variable "copy_concurrency_limit" {
  description = "Most cross-region copies of each kind (DB snapshots, DB cluster snapshots) this instance keeps in flight in the destination region; further copies wait for a free slot (the next copy-finished event, copy-waiting or reconcile run). AWS allows 20 DB snapshot copies and, counted apart, 5 DB cluster snapshot copies per destination region for the whole account: the function also never starts more than the account has left of those, and another instance's copies never count against this instance's share."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.copy_concurrency_limit >= 1 && var.copy_concurrency_limit <= 20 && floor(var.copy_concurrency_limit) == var.copy_concurrency_limit
    error_message = "copy_concurrency_limit must be a whole number from 1 to 20 (AWS allows at most 20 cross-region snapshot copies in flight per destination region)."
  }
}

variable "copy_max_attempts" {
  description = "Copies of one snapshot the function starts in the destination region before it gives up on it: a copy that ends `failed` is reported (outcome failed, metric CopiesFailed), deleted and copied again by the next copy-waiting or reconcile run until this many copies have failed; then it stays failed, reported on every reconcile run, and its source snapshot is kept. The count lives in the tag rds-snapshot-dr:copy-failures on the source snapshot."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.copy_max_attempts >= 1 && var.copy_max_attempts <= 10 && floor(var.copy_max_attempts) == var.copy_max_attempts
    error_message = "copy_max_attempts must be a whole number from 1 to 10."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the engine's metrics (TargetFailures, RecoveryPointAgeSeconds, ...); the alarms read from it. Metrics carry the dimension ModuleInstance = name."
  type        = string
  default     = "RdsSnapshotDr"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1 to 255 letters, digits or . _ / # : - characters and must not start with \"AWS/\"."
  }
}

variable "time_budget_reserve_ms" {
  description = "Milliseconds of the function's timeout kept in reserve: when less than this remains, the function starts no new work and leaves the rest to the next run. The default leaves room for one AWS call with its retries (each attempt is bounded to 5 s to connect and 15 s to read)."
  type        = number
  default     = 30000
  nullable    = false

  validation {
    condition     = var.time_budget_reserve_ms >= 0 && floor(var.time_budget_reserve_ms) == var.time_budget_reserve_ms
    error_message = "time_budget_reserve_ms must be a whole number of milliseconds, at least 0."
  }
}

variable "aws_api_max_attempts" {
  description = "Attempts per AWS API call, including the first, before the function gives up on throttling or transient errors (botocore retries)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.aws_api_max_attempts >= 1 && var.aws_api_max_attempts <= 10 && floor(var.aws_api_max_attempts) == var.aws_api_max_attempts
    error_message = "aws_api_max_attempts must be a whole number from 1 to 10."
  }
}

variable "aws_api_retry_mode" {
  description = "botocore retry mode for AWS API calls: \"standard\" or \"adaptive\" (client-side rate limiting, for accounts that get throttled)."
  type        = string
  default     = "standard"
  nullable    = false

  validation {
    condition     = contains(["standard", "adaptive"], var.aws_api_retry_mode)
    error_message = "aws_api_retry_mode must be \"standard\" or \"adaptive\"."
  }
}

################################################################################
# Lambda function
################################################################################

variable "lambda_timeout" {
  description = "Timeout of the function, in seconds. Each run only starts API calls (it never waits for a snapshot), so the default is generous."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.lambda_timeout >= 10 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be a whole number of seconds from 10 to 900."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the function, in MB."
  type        = number
  default     = 128
  nullable    = false

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "lambda_reserved_concurrent_executions" {
  description = "Concurrent executions reserved for (and capping) the function. -1 = no reservation (use the account's unreserved pool, for accounts with a low concurrency quota)."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.lambda_reserved_concurrent_executions == -1 || (var.lambda_reserved_concurrent_executions >= 1 && floor(var.lambda_reserved_concurrent_executions) == var.lambda_reserved_concurrent_executions)
    error_message = "lambda_reserved_concurrent_executions must be -1 (no reservation) or a whole number of at least 1 (0 would stop the function from ever running)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days (one of the values CloudWatch Logs accepts)."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key in the source region (checked) to encrypt the function's log group with (its policy must allow logs.<region>.amazonaws.com). null = CloudWatch Logs' default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.log_kms_key_arn, "x")))
    error_message = "log_kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

variable "tracing_enabled" {
  description = "Whether the function sends X-Ray traces (Active tracing). false = PassThrough."
  type        = bool
  default     = true
  nullable    = false
}

variable "log_level" {
  description = "Log level of the function: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING or ERROR."
  }
}

################################################################################
# IAM
################################################################################

variable "create_role" {
  description = "Whether the module creates the function's IAM role and its inline policies. false = bring your own role in `role_arn` (docs/bring-your-own-role.md): the module then creates no role, no role policy and no attachment for the function; the role must trust lambda.amazonaws.com and allow what the output `function_policy_json` renders. Covers the function's role only: the scheduler's role and the copy-events role (trusted by scheduler.amazonaws.com and events.amazonaws.com, allowed only to invoke this function, send to its dead-letter queue and forward its copy events) are still created. Decides what is created (a `count`), so it must be known at plan: a literal or a variable."
  type        = bool
  default     = true
  nullable    = false
}

variable "role_arn" {
  description = "ARN of an existing IAM role for the function, when `create_role = false` (required then, and must be null otherwise): a role of the providers' account, trusted by lambda.amazonaws.com, allowed what the output `function_policy_json` renders (docs/bring-your-own-role.md). A key the module creates names it in its key policy, so the role must exist before the apply. May be unknown at plan (a role created in the same configuration)."
  type        = string
  default     = null

  # Role ARNs: arn:<partition>:iam::<account>:role/<path><name> (IAM User Guide, "IAM identifiers", IAM ARNs);
  # a role name is 1 to 64 of letters, digits and +=,.@_- (IAM API Reference, CreateRole, RoleName).
  validation {
    condition     = var.role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/([\\x{21}-\\x{7e}]*/)?[A-Za-z0-9+=,.@_-]{1,64}$", var.role_arn))
    error_message = "role_arn must be the ARN of an IAM role, for example \"arn:aws:iam::123456789012:role/rds-snapshot-dr\" or with a path \"arn:aws:iam::123456789012:role/platform/rds-snapshot-dr\" (not a role name, not a policy or instance-profile ARN), or null."
  }
}

variable "iam_role_permissions_boundary" {
  description = "ARN of an IAM managed policy set as the permissions boundary of every role the module creates (the function's role, the scheduler's role and the copy-events role), for organisations that require one. The boundary must allow what their policies grant: the function's actions, lambda:InvokeFunction and sqs:SendMessage for the schedules, events:PutEvents for the forwarded copy events; otherwise those calls fail with AccessDenied (preflight checks the function's role only). With `create_role = false` the function's role is yours and this input does not touch it. null = no boundary."
  type        = string
  default     = null

  # Managed policy ARNs: arn:<partition>:iam::<account id or "aws">:policy/<path><name>
  # (IAM User Guide, "IAM identifiers"; CreateRole PermissionsBoundary takes a policy ARN of 20 to 2048 characters).
  validation {
    condition     = var.iam_role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[\\x{21}-\\x{7e}]+$", var.iam_role_permissions_boundary)) && try(length(var.iam_role_permissions_boundary) <= 2048, false)
    error_message = "iam_role_permissions_boundary must be the ARN of an IAM managed policy, for example \"arn:aws:iam::123456789012:policy/platform-boundary\" (not a role ARN, not a policy name), or null."
  }
}

variable "iam_role_path" {
  description = "IAM path of every role the module creates, for example \"/platform/\" (role ARNs become arn:aws:iam::<account>:role/platform/<name>). \"/\" = no path."
  type        = string
  default     = "/"
  nullable    = false

  # CreateRole Path: "/" alone, or a string that begins and ends with "/" of ASCII characters from
  # "!" (U+0021) to DEL (U+007F), at most 512 characters (IAM API Reference, CreateRole).
  validation {
    condition     = length(var.iam_role_path) <= 512 && can(regex("^/([\\x{21}-\\x{7f}]*/)?$", var.iam_role_path))
    error_message = "iam_role_path must begin and end with \"/\" (\"/\" alone for none), at most 512 characters, with no spaces, for example \"/platform/\"."
  }
}

################################################################################
# Tags
################################################################################

variable "tags" {
  description = "Tags added to every resource the module creates that AWS can tag (snapshots get `snapshot_tags` instead)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Restore drill
################################################################################

variable "restore" {
  description = "Regional settings of a restore in the destination (DR) region, used by the `restore` command and, unless it sets its own, by the restore drill. Each must already exist in the DR region. null or empty = RDS's default (the default VPC's subnet group and security group, the engine's default parameter and option groups). Every field can be overridden by a flag of the command."
  type = object({
    db_subnet_group_name            = optional(string)
    vpc_security_group_ids          = optional(list(string), [])
    db_parameter_group_name         = optional(string)
    db_cluster_parameter_group_name = optional(string)
    option_group_name               = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for id in var.restore.vpc_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "restore.vpc_security_group_ids must be security group IDs such as sg-0123456789abcdef0."
  }

  validation {
    condition = alltrue([
      for name in compact([var.restore.db_subnet_group_name, var.restore.db_parameter_group_name, var.restore.db_cluster_parameter_group_name, var.restore.option_group_name]) :
      can(regex("^[A-Za-z][A-Za-z0-9._ -]{0,254}$", name))
    ])
    error_message = "restore: group names must start with a letter and hold at most 255 letters, digits, spaces, periods, underscores or hyphens."
  }
}

variable "restore_drill" {
  description = <<-EOT
    Opt-in restore drill. null = no drill. On `schedule_expression` the function restores the newest DR copy of the next database in rotation (never drilled first, then the one whose latest drill, successful or failed, is oldest), one database per run and at most one drill in flight; the next reconcile measures the time to restore and deletes the drill database (no final snapshot).
    `databases`: identifiers to drill ([] = every database with a DR copy). `instance_class`: class of the drill database (null = the source's; a small class keeps the drill cheap). `db_subnet_group_name` / `vpc_security_group_ids`: network in the DR region (null / [] = var.restore's). `max_lifetime_minutes`: a drill not available by then is deleted and reported failed (30 to 1440). `overdue_days`: alarm when a database has had no successful drill for this many days (1 to 365). One database is drilled per run, so a rotation of N databases takes N runs: the weekly default covers 5 databases within the default 35 days; for more, run the drill daily (`cron(0 3 * * ? *)` covers 35) or raise `overdue_days`. The drill reports a warning outcome when its schedule cannot cover the databases within `overdue_days`.
  EOT
  type = object({
    schedule_expression    = optional(string, "cron(0 3 ? * SUN *)")
    databases              = optional(list(string), [])
    instance_class         = optional(string)
    db_subnet_group_name   = optional(string)
    vpc_security_group_ids = optional(list(string), [])
    max_lifetime_minutes   = optional(number, 240)
    overdue_days           = optional(number, 35)
  })
  default = null

  validation {
    condition     = var.restore_drill == null || can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\([^)]+\\))$", var.restore_drill.schedule_expression))
    error_message = "restore_drill.schedule_expression must be an EventBridge Scheduler rate() or cron() expression, such as cron(0 3 ? * SUN *)."
  }

  validation {
    condition     = var.restore_drill == null || alltrue([for id in try(var.restore_drill.databases, []) : can(regex("^[a-z][a-z0-9-]{0,62}$", id)) && !strcontains(id, "--") && !endswith(id, "-")])
    error_message = "restore_drill.databases must be DB instance or cluster identifiers: a lowercase letter first, then up to 62 lowercase letters, digits or single hyphens."
  }

  validation {
    condition     = var.restore_drill == null || try(var.restore_drill.instance_class, null) == null || can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", coalesce(try(var.restore_drill.instance_class, null), "x")))
    error_message = "restore_drill.instance_class must be a DB instance class such as db.t4g.medium, or null for the source's class."
  }

  validation {
    condition     = var.restore_drill == null || alltrue([for id in try(var.restore_drill.vpc_security_group_ids, []) : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "restore_drill.vpc_security_group_ids must be security group IDs such as sg-0123456789abcdef0."
  }

  validation {
    condition     = var.restore_drill == null || (try(var.restore_drill.max_lifetime_minutes, 0) >= 30 && try(var.restore_drill.max_lifetime_minutes, 0) <= 1440 && floor(try(var.restore_drill.max_lifetime_minutes, 0)) == try(var.restore_drill.max_lifetime_minutes, 0))
    error_message = "restore_drill.max_lifetime_minutes must be a whole number from 30 to 1440: long enough for a restore, short enough that a stuck drill does not run up a bill."
  }

  validation {
    condition     = var.restore_drill == null || (try(var.restore_drill.overdue_days, 0) >= 1 && try(var.restore_drill.overdue_days, 0) <= 365 && floor(try(var.restore_drill.overdue_days, 0)) == try(var.restore_drill.overdue_days, 0))
    error_message = "restore_drill.overdue_days must be a whole number of days from 1 to 365."
  }
}
