# Copy slots kept busy: the destination region's finished/failed copy events reach the function
# through the source region's default event bus.

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
}

run "destination_rule_forwards_finished_and_failed_copies_to_the_source_bus" {
  command = plan

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.copy_finished_destination[0].event_pattern) == {
      source        = ["aws.rds"]
      "detail-type" = ["RDS DB Snapshot Event"]
      detail = {
        EventID          = ["RDS-EVENT-0060", "RDS-EVENT-0061"]
        SourceIdentifier = [{ prefix = "dr6-orders-" }]
      }
    }
    error_message = "The destination rule must match the finished (0060) and failed (0061) cross-region copies of this instance's snapshots."
  }

  assert {
    condition     = aws_cloudwatch_event_target.copy_finished_forward[0].arn == "arn:aws:events:eu-west-1:123456789012:event-bus/default"
    error_message = "The destination rule must forward to the default event bus of the source region (a rule may target a function only in its own region)."
  }

  assert {
    condition     = aws_cloudwatch_event_target.copy_finished_forward[0].role_arn == aws_iam_role.copy_events[0].arn
    error_message = "Forwarding to another region's bus needs the role that may put events there."
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.copy_events[0].statement : { sid = s.sid, actions = s.actions, resources = s.resources }] == [{
      sid       = "ForwardCopyEventsToSourceRegion"
      actions   = toset(["events:PutEvents"])
      resources = toset(["arn:aws:events:eu-west-1:123456789012:event-bus/default"])
    }]
    error_message = "The forwarding role may only put events on the source region's default bus."
  }
}

run "source_rule_invokes_the_function_for_forwarded_copy_events_only" {
  command = plan

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.copy_finished[0].event_pattern).region == ["eu-central-1"]
    error_message = "The source rule must take only the events forwarded from the destination region."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.copy_finished[0].event_pattern).detail.EventID == ["RDS-EVENT-0060", "RDS-EVENT-0061"]
    error_message = "The source rule must match the copy events, not the snapshot-created ones (those have their own rule)."
  }

  assert {
    condition     = aws_cloudwatch_event_target.copy_finished[0].dead_letter_config[0].arn == aws_sqs_queue.dead_letter[0].arn && aws_cloudwatch_event_target.copy_finished[0].retry_policy[0].maximum_event_age_in_seconds == 3600
    error_message = "Undeliverable copy events must reach the dead-letter queue, like the snapshot-created ones."
  }

  assert {
    condition     = aws_lambda_permission.copy_finished[0].principal == "events.amazonaws.com" && aws_lambda_permission.copy_finished[0].source_arn == aws_cloudwatch_event_rule.copy_finished[0].arn
    error_message = "Only the copy-events rule may invoke the function for these events."
  }
}

run "a_custom_prefix_reaches_both_copy_rules" {
  command = plan

  variables {
    snapshot_prefix = "nightly"
  }

  assert {
    condition = alltrue([
      for rule in [aws_cloudwatch_event_rule.copy_finished_destination[0], aws_cloudwatch_event_rule.copy_finished[0]] :
      jsondecode(rule.event_pattern).detail.SourceIdentifier == [{ prefix = "nightly-" }]
    ])
    error_message = "Both copy rules must follow snapshot_prefix."
  }
}
