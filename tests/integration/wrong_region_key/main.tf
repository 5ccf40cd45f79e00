# A destination key created in the same configuration, in a region that is not the destination: its
# ARN (and so its region) is known only at apply. The module must refuse it before the function,
# its schedules and its event rule exist (tests/integration/test_arn_checks.py).

terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.31"
    }
  }
}

variable "source_region" {
  description = "Region of the databases."
  type        = string
}

variable "destination_region" {
  description = "Region of the DR copies."
  type        = string
}

provider "aws" {
  region = var.source_region
}

provider "aws" {
  alias  = "destination"
  region = var.destination_region
}

provider "aws" {
  alias  = "elsewhere"
  region = "eu-west-3"
}

resource "aws_kms_key" "elsewhere" {
  #checkov:skip=CKV2_AWS_64:Test fixture on the local stand-in; the key only has to exist in the wrong region.
  provider = aws.elsewhere

  description         = "A key in the wrong region for the DR copies."
  enable_key_rotation = true
}

module "rds_snapshot_dr" {
  source = "../../.."

  providers = {
    aws             = aws
    aws.destination = aws.destination
  }

  name                    = "wrongkey"
  db_instance_identifiers = ["orders-db"]
  create_kms_key          = false
  kms_key_arn             = aws_kms_key.elsewhere.arn
}
