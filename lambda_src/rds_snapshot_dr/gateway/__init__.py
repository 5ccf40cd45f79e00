"""The one way to AWS: every call the function and the command line make runs inside `aws.aws_call`, which
names the IAM action and turns botocore's errors into `rules.errors.AwsError`, on clients that
`aws.ClientFactory` builds (RDS paced by the rate budget). `aws` holds the engine's gateways (RDS, the
Scheduler, the key, the account), `restore` the restore command's and the drill's. Only this package
imports boto3 or botocore.
"""
