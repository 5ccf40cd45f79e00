# One database, everything else created by the module: the destination KMS key, the alarm topic
# (with its own key), the schedules, the event rule and the alarms.
module "rds_snapshot_dr" {
  source = "../../"

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name                    = "orders"
  db_instance_identifiers = [var.db_instance_identifier]

  # Opt-in restore drill: every Sunday 03:00 UTC, restore the newest DR copy in a small class,
  # measure the time to restore, delete it. Costs about an hour of that class a week.
  restore_drill = {
    instance_class = "db.t4g.micro"
  }
}
