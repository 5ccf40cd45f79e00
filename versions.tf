terraform {
  # 1.9: validation blocks that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.31: logging_config on aws_lambda_function (JSON logs).
      version = ">= 5.31"
      # aws             = the source region (the databases and their snapshots)
      # aws.destination = the disaster-recovery region (the copies and their KMS key)
      configuration_aliases = [aws.destination]
    }
  }
}
