# tflint configuration: `tflint --init && tflint --recursive` from the repository root.

config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

plugin "aws" {
  enabled = true
  version = "0.38.0"
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}

# Every variable and output says what it is.
rule "terraform_documented_variables" {
  enabled = true
}

rule "terraform_documented_outputs" {
  enabled = true
}

# Every variable has a type.
rule "terraform_typed_variables" {
  enabled = true
}

# snake_case names for resources, variables, outputs and locals.
rule "terraform_naming_convention" {
  enabled = true
  format  = "snake_case"
}

# main.tf, variables.tf, outputs.tf in every module; variables and outputs in their own files.
rule "terraform_standard_module_structure" {
  enabled = true
}

# No variable, local or data source declared and never used.
rule "terraform_unused_declarations" {
  enabled = true
}
