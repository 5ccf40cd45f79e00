"""The rules: plain functions over plain data, one module per concern. Never import boto3 or a gateway.

Every rule that protects data lives here, so it can be read and tested without AWS: what is a target
(`selection`), what is ours (`naming`), what to copy now and what to defer (`copy_state`, `copy_plan`),
what a backup round missed (`rounds`, `schedule`), what is expired (`retention`), how old the newest
restorable copy is (`recovery_point`), what the quotas must hold (`capacity`), what an event says
(`events`), what an AWS error means (`errors`) and what a restore needs (`restore`).
"""
