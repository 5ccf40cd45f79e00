################################################################################
# The function, its logs and its dead-letter queue
################################################################################

locals {
  package_path = "${path.module}/dist/rds_snapshot_dr.zip"
}

# CloudWatch Logs encrypts at rest by default; var.log_kms_key_arn adds a customer managed key.
resource "aws_cloudwatch_log_group" "lambda" {
  count = local.create ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = local.tags
}

# Receives what could not be delivered or processed: async invocations that failed every retry,
# and events that the schedules or the event rule could not deliver. Any message here is an alarm.
resource "aws_sqs_queue" "dead_letter" {
  count = local.create ? 1 : 0

  name                      = "${local.name}-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600 # 14 days, the most SQS allows: time to look at what failed
  tags                      = local.tags
}

data "aws_iam_policy_document" "dead_letter" {
  count = local.create ? 1 : 0

  statement {
    sid       = "EventRuleDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.snapshot_created[0].arn, aws_cloudwatch_event_rule.copy_finished[0].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter" {
  count = local.create ? 1 : 0

  queue_url = aws_sqs_queue.dead_letter[0].id
  policy    = data.aws_iam_policy_document.dead_letter[0].json
}

resource "aws_lambda_function" "this" {
  count = local.create ? 1 : 0

  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (RDS, KMS, IAM); a VPC would add NAT or endpoints and protect nothing.
  #checkov:skip=CKV_AWS_272:The package is built reproducibly from the repository and its hash pinned by source_code_hash; code signing would need a signing profile the module cannot assume exists.
  #checkov:skip=CKV_AWS_173:The environment holds settings only (regions, identifiers, key ARN), no secrets; Lambda encrypts it at rest with its service key.
  function_name = local.name
  description   = "rds-snapshot-dr ${local.module_version} ${var.name}: snapshots RDS databases in ${local.source_region} and copies them to ${local.destination_region}."
  role          = local.role_arn

  filename         = local.package_path
  source_code_hash = filebase64sha256(local.package_path)
  handler          = "rds_snapshot_dr.handler.lambda_handler"
  runtime          = "python3.12"
  architectures    = ["arm64"]

  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout
  reserved_concurrent_executions = var.lambda_reserved_concurrent_executions

  environment {
    variables = local.lambda_environment
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda[0].name
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter[0].arn
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  tags = local.tags

  # The role's policy must exist before the first invocation (a role of the caller's, create_role = false,
  # is theirs to have ready), and the log group before the
  # function so that Lambda never creates one without retention. The ARN checks come first so that
  # a wrong-region key known only at apply stops the apply before the function exists (main.tf).
  depends_on = [
    aws_iam_role_policy.lambda,
    aws_cloudwatch_log_group.lambda,
    terraform_data.input_checks,
  ]

  lifecycle {
    precondition {
      condition     = local.lambda_environment_size <= 4096
      error_message = "The function's settings take about ${local.lambda_environment_size} bytes, over Lambda's 4 KB limit for environment variables. List fewer identifiers (use selection_tags instead), or shorten snapshot_tags and selection_tags."
    }
  }
}

# Scheduler and EventBridge invoke the function asynchronously: bound Lambda's own retries and how
# long an event may wait, after which it goes to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = local.create ? 1 : 0

  function_name                = aws_lambda_function.this[0].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}
