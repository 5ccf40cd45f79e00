# The recommended rollout: ONE module instance per account and source region, selecting every
# database that carries a tag. Protecting another database is a tag on it, not a change here, and
# the plan stays the same size whatever the fleet.
module "rds_snapshot_dr" {
  source = "../../"

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name           = "platform"
  selection_tags = { dr-protect = "daily" }

  alarm_email_addresses = var.alarm_email_addresses
}
