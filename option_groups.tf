# Option groups in the destination region, for the copies of DB snapshots whose option group is not a
# default one (option_group_mapping names them). An option group belongs to its region: RDS copies such a
# snapshot to another region only with OptionGroupName naming a group there (RDS API Reference,
# CopyDBSnapshot: OptionGroupName). Created only when the platform team lists them here; a group made
# elsewhere is simply named in option_group_mapping.
resource "aws_db_option_group" "destination" {
  for_each = local.create ? var.destination_option_groups : {}
  provider = aws.destination

  name                     = each.key
  engine_name              = each.value.engine_name
  major_engine_version     = each.value.major_engine_version
  option_group_description = "DR copies of ${each.value.engine_name} ${each.value.major_engine_version} snapshots (${var.name}, rds-snapshot-dr)"

  dynamic "option" {
    for_each = each.value.options
    content {
      option_name = option.value.option_name

      dynamic "option_settings" {
        for_each = option.value.settings
        content {
          name  = option_settings.key
          value = option_settings.value
        }
      }
    }
  }

  tags = local.tags
}
