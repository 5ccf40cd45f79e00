"""The manual snapshot quotas RDS counts every snapshot and copy against, per region and snapshot kind.

From quotas.json, which the module reads too (capacity.tf, for the quota it suggests at plan): the names
the function reads, reports and suggests and those Terraform suggests cannot drift apart. RDS User Guide,
"Quotas and constraints for Amazon RDS"
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html): "Manual DB instance snapshots"
and "Manual DB cluster snapshots", 100 each by default, adjustable; the page links each to its Service
Quotas code. `account_quota_name` is DescribeAccountAttributes' AccountQuotaName.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SnapshotQuota:
    kind: str  # "instance" | "cluster", as Kind's values
    account_quota_name: str
    title: str
    service_quotas_code: str


SNAPSHOT_QUOTAS: dict[str, SnapshotQuota] = {
    kind: SnapshotQuota(kind, **entry)
    for kind, entry in json.loads(Path(__file__).with_name("quotas.json").read_text()).items()
}
# AccountQuotaName -> snapshot kind
QUOTA_KINDS: dict[str, str] = {quota.account_quota_name: kind for kind, quota in SNAPSHOT_QUOTAS.items()}
