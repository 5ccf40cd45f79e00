"""Every AWS error the engine expects, mapped to an outcome and a fix a person can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rds_snapshot_dr.rules.model import Operation, Result


class AwsError(Exception):
    """An AWS call failed after botocore's retries. Raised by the gateway only, so the engine never sees botocore."""

    def __init__(self, code: str, message: str, action: str, region: str) -> None:
        super().__init__(f"{code} on {action} in {region}: {message}")
        self.code = code
        self.message = message
        self.action = action  # IAM action name, e.g. rds:CopyDBSnapshot
        self.region = region


class TargetFailuresError(RuntimeError):
    """Raised at the end of an invocation in which at least one target failed (after metrics are out)."""


@dataclass(frozen=True)
class Classified:
    outcome: Result  # skipped | deferred | failed | exists | gone
    reason: str
    fix: str


ALREADY_EXISTS = frozenset({"DBSnapshotAlreadyExists", "DBClusterSnapshotAlreadyExistsFault"})
NOT_READY = frozenset({"InvalidDBInstanceState", "InvalidDBClusterStateFault"})
SNAPSHOT_NOT_READY = frozenset({"InvalidDBSnapshotState", "InvalidDBClusterSnapshotStateFault"})
DATABASE_NOT_FOUND = frozenset({"DBInstanceNotFound", "DBClusterNotFoundFault"})
SNAPSHOT_NOT_FOUND = frozenset({"DBSnapshotNotFound", "DBClusterSnapshotNotFoundFault"})
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
    }
)
# No credentials, or credentials AWS does not accept: botocore's own exceptions (raised before a request
# leaves) and the STS/IAM error codes of a rejected or expired token.
CREDENTIALS = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "NoAuthTokenError",
        "SSOTokenLoadError",
        "UnauthorizedSSOTokenError",
        "TokenRetrievalError",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)
UNREACHABLE = frozenset({"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"})
QUOTA = "SnapshotQuotaExceeded"
# RDS reports the cross-region copy limit as SnapshotQuotaExceeded with a message such as
# "Cannot copy more than 20 snapshots across regions"; a dedicated code is accepted too.
COPY_LIMIT_CODES = frozenset({"SnapshotCopyLimitExceeded", "DBSnapshotCopyLimitExceeded", "ResourceLimitExceeded"})
_COPY_LIMIT_MESSAGE = re.compile(r"cop(y|ies)\b.*\b(across regions|in progress|at a time|concurrent)", re.IGNORECASE)

QUOTA_HINT = (
    "The account reached its manual snapshot quota in {region} (ManualSnapshots / ManualClusterSnapshots, "
    "100 per region by default). Lower the retention or keep_last, delete manual snapshots nobody needs, "
    "or request a higher quota in Service Quotas (Amazon RDS, 'Manual DB instance snapshots' / "
    "'Manual DB cluster snapshots'). Watch the ManualSnapshotQuotaUsedPercent metric."
)


def is_copy_limit(error: AwsError) -> bool:
    """The destination region already has the maximum number of cross-region copies in progress."""
    if error.code in COPY_LIMIT_CODES:
        return True
    return error.code == QUOTA and bool(_COPY_LIMIT_MESSAGE.search(error.message))


# Error codes that stay until a person acts, whatever Lambda's retries do within minutes: a KMS key that is
# disabled, pending deletion or refuses the role (RDS API Reference, CopyDBSnapshot: KMSKeyNotAccessibleFault).
# Their failed outcomes are reported on every run, without failing the invocation: its retries would only fill
# the dead-letter queue, whose alarm must keep meaning "an invocation was lost".
LASTING_CODES = frozenset({"KMSKeyNotAccessibleFault"})


def classify(
    error: AwsError, operation: Operation | str, *, kms_key_arn: str = "", retry_mode: str = "", attempts: int = 0
) -> Classified:
    """Outcome and fix for an error of `operation` (snapshot | copy | delete | describe)."""
    code, region, action = error.code, error.region, error.action
    detail = f"{code}: {error.message}"
    if code in NOT_READY:
        return Classified(
            Result.SKIPPED,
            f"the database is not in a state that allows a snapshot ({detail})",
            "Usually transient (modifying, backing-up, stopped). When the database is available again, reconcile "
            "retakes the snapshot of the latest full backup round (under the round's name); to take it now invoke "
            'the function with {"action": "backup", "targets": ["<id>"]}.',
        )
    if code in SNAPSHOT_NOT_READY:
        return Classified(
            Result.SKIPPED,
            f"the snapshot is not in a state that allows {operation} ({detail})",
            "Transient: the next reconcile retries it.",
        )
    if code in ALREADY_EXISTS:
        return Classified(Result.EXISTS, detail, "")
    if code in DATABASE_NOT_FOUND:
        return Classified(
            Result.FAILED,
            f"the database does not exist in {region} ({detail})",
            "Check db_instance_identifiers / db_cluster_identifiers: it was deleted, renamed or is in another region.",
        )
    if code in SNAPSHOT_NOT_FOUND:
        return Classified(Result.GONE, f"the snapshot no longer exists in {region} ({detail})", "")
    if operation == Operation.COPY and is_copy_limit(error):
        return Classified(
            Result.DEFERRED,
            f"the destination region {region} has the maximum of cross-region copies in progress ({detail})",
            "Nothing to do: reconcile starts the copy when a slot is free. If copies are deferred for long, "
            "run reconcile more often or stagger the backup schedules.",
        )
    if code == QUOTA:
        return Classified(Result.FAILED, detail, QUOTA_HINT.format(region=region))
    if code == "KMSKeyNotAccessibleFault":
        return Classified(
            Result.FAILED,
            f"KMS key {kms_key_arn or '(unknown)'} in {region} is not accessible ({detail})",
            f"Check that key {kms_key_arn} exists in {region}, is enabled and not pending deletion, and that its "
            "key policy lets the function's role use it through RDS: it delegates to IAM (the account root may "
            "kms:*) or names the role (the module's output kms_key_policy_statements). Run preflight to check. "
            "Also check the source key if the source is encrypted.",
        )
    if code in {"InvalidParameterValue", "InvalidParameterCombination"} and operation == Operation.COPY:
        return Classified(
            Result.FAILED,
            f"RDS rejected the copy parameters for key {kms_key_arn or '(unknown)'} in {region} ({detail})",
            f"The destination key (the module's own, or the kms_key_arn input) must be a key ARN in {region} (not an "
            "alias, not another region), and the source snapshot must be referenced by its full ARN. Check the "
            "key, the regions and the engine's cross-region copy support.",
        )
    if code in ACCESS_DENIED:
        return Classified(
            Result.FAILED,
            f"the function's role may not call {action} in {region} ({detail})",
            f"Allow {action} on this resource in the function's IAM policy (the module's policy scopes snapshot "
            "actions to the snapshot prefix and deletions to the ownership tag), and check SCPs and permission "
            "boundaries.",
        )
    if code in THROTTLING:
        return Classified(
            Result.FAILED,
            f"AWS throttled {action} in {region} beyond {attempts or 'the configured'} attempts ({detail})",
            "Transient: the next run retries. If it repeats, raise aws_api_max_attempts, set aws_api_retry_mode = "
            '"adaptive", or stagger the schedules of module instances in the same account and region.',
        )
    if code in CREDENTIALS:
        return Classified(
            Result.FAILED,
            f"no usable AWS credentials for {action} in {region} ({detail})",
            "In Lambda: the function's role (check that it exists and that its trust policy names "
            "lambda.amazonaws.com). On a workstation: sign in first (aws sso login, or set AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run the command again.",
        )
    if code in UNREACHABLE:
        return Classified(
            Result.FAILED,
            f"could not reach the RDS endpoint for {region} ({detail})",
            f"Check the network path to RDS in {region} (proxy, firewall, VPC endpoint) and that the region name "
            "is right. The next run retries.",
        )
    return Classified(
        Result.FAILED,
        f"unexpected error from {action} in {region} ({detail})",
        "See the message; the next run retries. Check the settings, the KMS key and the IAM permissions.",
    )
