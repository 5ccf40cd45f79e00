"""A configuration sweep: short runs over random valid settings, every invariant checked.

Each configuration is drawn, from a seed, within the module's variable validations (variables.tf): retention
in both regions (`source_days` <= `destination_days`, each at least 1), `keep_last`, the backup schedule (one
or two rounds a day, at any hour), the reconcile interval (at least once a day), `copy_concurrency_limit`
(1 to 20), `copy_max_attempts` (1 to 10) and the copy-waiting schedule (or none), over a fleet with a little
of every everyday fault (failed copies, lost events, databases modifying and stopped). A configuration that
breaks an invariant is a finding: it becomes a named scenario in scenarios.py, with the settings the sweep
printed.
"""

from __future__ import annotations

import random
from dataclasses import replace

from .scenarios import HOUR, SCENARIOS, Scenario
from .services import Delivery

# The ranges drawn from, within the validations (the upper ends are what a platform team plausibly sets).
SOURCE_DAYS = (1, 7)
DESTINATION_DAYS_MAX = 21
KEEP_LAST = (1, 4)
COPY_CONCURRENCY_LIMIT = (1, 20)  # variables.tf: 1 to 20
COPY_MAX_ATTEMPTS = (1, 10)  # variables.tf: 1 to 10
RECONCILE_MINUTES = (15, 30, 60, 120, 180, 360)  # rate(<n> minutes): at most a day (the alarm's period)
COPY_WAITING_S = (None, 300.0, 900.0, 1800.0)  # copy_waiting_schedule_expression: null or rate(<n> minutes)


def configuration(seed: int, databases: int = 8, days: int = 8) -> Scenario:
    """The sweep's configuration number `seed`: the steady-state fleet under random valid settings."""
    rng = random.Random(f"sweep-{seed}")
    source_days = rng.randint(*SOURCE_DAYS)
    destination_days = rng.randint(source_days, DESTINATION_DAYS_MAX)
    first = rng.randrange(24)
    backup_hours = (first,) if rng.random() < 0.7 else tuple(sorted((first, (first + 12) % 24)))
    settings = (
        ("SOURCE_RETENTION_DAYS", str(source_days)),
        ("DESTINATION_RETENTION_DAYS", str(destination_days)),
        ("KEEP_LAST", str(rng.randint(*KEEP_LAST))),
        ("COPY_CONCURRENCY_LIMIT", str(rng.randint(*COPY_CONCURRENCY_LIMIT))),
        ("COPY_MAX_ATTEMPTS", str(rng.randint(*COPY_MAX_ATTEMPTS))),
    )
    reconcile_s = rng.choice(RECONCILE_MINUTES) * 60.0
    copy_waiting_s = rng.choice(COPY_WAITING_S)
    label = ", ".join(f"{key}={value}" for key, value in settings)
    return replace(
        SCENARIOS["steady-state"],
        name=f"sweep-{seed}",
        description=(
            f"{label}, backup at {','.join(f'{h:02d}:00' for h in backup_hours)} UTC, reconcile every "
            f"{reconcile_s / HOUR:g} h, copy-waiting "
            + (f"every {copy_waiting_s / 60:g} min" if copy_waiting_s else "off")
        ),
        databases=databases,
        days=days,
        seed=seed,
        settings=settings,
        backup_hours=backup_hours,
        reconcile_s=reconcile_s,
        copy_waiting_s=copy_waiting_s,
        copy_failure_rate=0.02,
        delivery=Delivery(lost=0.05),
    )
