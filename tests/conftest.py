"""Shared test setup: fake credentials and regions before any boto3 client exists, and a Lambda context."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

# Set at import time, before any test module builds a client. Nothing here may reach a real account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)
for _name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(_name, None)


@dataclass
class LambdaContext:
    """The part of the Lambda context object the handler uses."""

    remaining_ms: int = 900_000
    function_name: str = "rds-snapshot-dr-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
