# The rollout a platform team reviews in one plan: one module instance per database, keyed by name
# (for_each over a map, so removing one never touches the others), all copying with ONE shared
# destination key.

# The shared key names no function role in its policy: it delegates to IAM (the account administers
# it), and each module instance's role uses it through its own IAM statements, only through RDS
# (create_kms_key = false, kms_key_arn set). So adding a database never rewrites the key policy, and
# the key does not depend on the module instances that depend on it.
module "destination_key" {
  source = "../../modules/destination-kms-key"

  providers = {
    aws = aws.destination
  }

  name = "rds-snapshot-dr-shared"
}

module "rds_snapshot_dr" {
  source   = "../../"
  for_each = var.databases

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name                    = each.key
  db_instance_identifiers = each.value.db_instance_identifiers
  db_cluster_identifiers  = each.value.db_cluster_identifiers
  rpo_alarm_threshold     = each.value.rpo_alarm_threshold

  # The shared key: its ARN is unknown until it is created, so create_kms_key = false (a literal)
  # tells the module at plan that it creates no key.
  create_kms_key = false
  kms_key_arn    = module.destination_key.key_arn

  # AWS allows 20 cross-region copies in flight per destination region for the whole account:
  # share them out between the instances.
  copy_concurrency_limit = max(1, floor(20 / length(var.databases)))

  tags = {
    database = each.key
  }
}
