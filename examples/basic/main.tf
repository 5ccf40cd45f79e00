# One database, everything else created by the module: the destination KMS key, the alarm topic
# (with its own key), the schedules, the event rule and the alarms.
module "rds_snapshot_dr" {
  source = "../../"

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name                    = "orders"
  db_instance_identifiers = ["orders-db"]
}
