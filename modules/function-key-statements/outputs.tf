output "statements" {
  description = "The statements as objects (sid, actions, principals: AWS principal ARNs, conditions: test, variable, values), for a `dynamic \"statement\"` block of aws_iam_policy_document."
  value       = local.statements
}

output "policy_json" {
  description = "The statements as a key policy document (JSON), for `source_policy_documents` of the key's aws_iam_policy_document or to paste into a key policy. An empty Statement list when function_role_arns is empty."
  value = jsonencode({
    Version = "2012-10-17"
    Statement = [
      for statement in local.statements : merge(
        {
          Sid       = statement.sid
          Effect    = "Allow"
          Principal = { AWS = statement.principals }
          Action    = statement.actions
          Resource  = "*"
        },
        length(statement.conditions) == 0 ? {} : {
          Condition = {
            for test in distinct([for c in statement.conditions : c.test]) :
            test => { for c in statement.conditions : c.variable => c.values if c.test == test }
          }
        },
      )
    ]
  })
}

output "key_use_actions" {
  description = "The KMS actions RDS needs on the key to write and read encrypted copies."
  value       = local.key_use_actions
}
