# docs/bring-your-own-role.md, "The exact policy": a configuration that creates the function's role itself
# from the module's outputs and passes it in with create_role = false. tests/unknown_values.tftest.hcl
# plans it with every ARN unknown, as on a first plan: the role, the module and the role's policy follow
# each other without a cycle, and nothing the module creates depends on role_arn's value.

variable "source_region" {
  type    = string
  default = "eu-west-1"
}

variable "destination_region" {
  type    = string
  default = "eu-central-1"
}

resource "aws_iam_role" "dr_function" {
  name               = "orders-dr-function"
  path               = "/platform/"
  assume_role_policy = module.rds_snapshot_dr.function_trust_policy_json
}

module "rds_snapshot_dr" {
  source = "../../"

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name                    = "orders"
  db_instance_identifiers = ["orders-db"]

  create_role = false
  role_arn    = aws_iam_role.dr_function.arn
}

resource "aws_iam_role_policy" "dr_function" {
  name   = "rds-snapshot-dr"
  role   = aws_iam_role.dr_function.id
  policy = module.rds_snapshot_dr.function_policy_json
}

output "lambda_function_name" {
  value = module.rds_snapshot_dr.lambda_function_name
}
