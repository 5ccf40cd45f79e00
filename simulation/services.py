"""How the function is invoked: EventBridge rules, EventBridge Scheduler and Lambda's asynchronous queue."""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .kernel import Kernel, LambdaTimeout, Task, to_datetime

# The module's EventBridge rules, by the region their bus is in; "{prefix}" is the snapshot prefix. Keep
# in step with the Terraform: schedule.tf (snapshot_created) and events.tf (copy_finished_destination,
# which forwards to the source region's bus, where a second rule invokes the function; the forwarding
# is one more delivery delay here).
RULES: dict[str, list[dict[str, Any]]] = {
    "source": [
        {
            "source": ["aws.rds"],
            "detail-type": ["RDS DB Snapshot Event", "RDS DB Cluster Snapshot Event"],
            "detail": {
                "EventID": ["RDS-EVENT-0042", "RDS-EVENT-0075"],
                "SourceIdentifier": [{"prefix": "{prefix}-"}],
            },
        }
    ],
    "destination": [
        {
            "source": ["aws.rds"],
            "detail-type": ["RDS DB Snapshot Event"],
            "detail": {
                "EventID": ["RDS-EVENT-0060", "RDS-EVENT-0061"],
                "SourceIdentifier": [{"prefix": "{prefix}-"}],
            },
        }
    ],
}


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any], prefix: str) -> bool:
    """EventBridge content filtering, the parts the module's rules use (EventBridge User Guide, "Event
    patterns": a list of values matches any; {"prefix": ...})."""
    for key, wanted in pattern.items():
        value = event.get(key)
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value, prefix):
                return False
            continue
        ok = False
        for option in wanted:
            if isinstance(option, Mapping) and "prefix" in option:
                ok = isinstance(value, str) and value.startswith(option["prefix"].replace("{prefix}", prefix))
            else:
                ok = value == option
            if ok:
                break
        if not ok:
            return False
    return True


@dataclass
class Delivery:
    """EventBridge delivers RDS events on a best-effort basis (RDS User Guide, "Working with Amazon RDS
    event notification"): some are lost, some arrive twice, some late (so out of order)."""

    lost: float = 0.0
    duplicated: float = 0.0
    delayed: float = 0.0
    max_delay_s: float = 900.0
    latency_s: float = 0.5


class EventBus:
    def __init__(
        self,
        kernel: Kernel,
        rng: random.Random,
        delivery: Delivery,
        regions: Mapping[str, str],
        prefix: str,
        target: Callable[[dict[str, Any], str], None],
    ) -> None:
        self.kernel, self.rng, self.delivery = kernel, rng, delivery
        self.roles = {name: role for role, name in regions.items()}
        self.prefix = prefix
        self.target = target
        self.counts = {"emitted": 0, "matched": 0, "lost": 0, "duplicated": 0}

    def publish(self, region: str, event: dict[str, Any]) -> None:
        self.counts["emitted"] += 1
        if not any(matches(rule, event, self.prefix) for rule in RULES[self.roles[region]]):
            return
        self.counts["matched"] += 1
        d = self.delivery
        if self.rng.random() < d.lost:
            self.counts["lost"] += 1
            return
        copies = 2 if self.rng.random() < d.duplicated else 1
        self.counts["duplicated"] += copies - 1
        hops = 2 if self.roles[region] == "destination" else 1  # forwarded to the source region's bus
        for _ in range(copies):
            delay = hops * d.latency_s + (self.rng.uniform(0, d.max_delay_s) if self.rng.random() < d.delayed else 0.0)
            self.kernel.at(self.kernel.now + delay, lambda: self.target(event, "event"))


def rds_event(
    region: str, detail_type: str, event_id: str, message: str, ident: str, arn: str, t: float
) -> dict[str, Any]:
    """An RDS event as EventBridge delivers it (shape of tests/events/manual-snapshot-created.json)."""
    when = to_datetime(t)
    cluster = "Cluster" in detail_type
    return {
        "version": "0",
        "id": f"sim-{event_id}-{ident}-{int(t)}",
        "detail-type": detail_type,
        "source": "aws.rds",
        "account": arn.split(":")[4],
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [arn],
        "detail": {
            "EventCategories": ["backup" if cluster else "creation"],
            "SourceType": "CLUSTER_SNAPSHOT" if cluster else "SNAPSHOT",
            "SourceArn": arn,
            "Date": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "Message": message,
            "SourceIdentifier": ident,
            "EventID": event_id,
        },
    }


@dataclass
class LambdaConfig:
    """The module's function settings (lambda.tf): reserved concurrency, timeout, asynchronous invocation."""

    reserved_concurrency: int = 2
    timeout_s: float = 300.0
    # Lambda Developer Guide, "Asynchronous invocation": 0-2 retries (about 1 then 2 minutes apart), a
    # maximum event age of 60 s to 6 h, then the dead-letter queue. The module sets 2 and 3600 s.
    maximum_retry_attempts: int = 2
    maximum_event_age_s: float = 3600.0
    retry_delays_s: tuple[float, ...] = (60.0, 120.0)


@dataclass
class Invocation:
    trigger: str  # backup | reconcile | copy-waiting | event
    payload: dict[str, Any]
    queued: float
    attempt: int
    start: float = 0.0
    end: float = 0.0
    calls: int = 0  # RDS requests
    operations: Counter[str] = field(default_factory=Counter)  # RDS requests by operation
    scheduler_calls: int = 0  # EventBridge Scheduler requests (the copy-waiting switch)
    emf: dict[str, Any] = field(default_factory=dict)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (operation, target, snapshot)
    outcomes: dict[str, int] = field(default_factory=dict)
    error: str = ""
    truth: dict[str, float] = field(default_factory=dict)  # what the harness knew at the start


@dataclass
class _Queued:
    trigger: str
    payload: dict[str, Any]
    first_queued: float
    attempt: int = 0


class LambdaService:
    """Lambda's asynchronous queue in front of the function, within its reserved concurrency."""

    def __init__(
        self,
        kernel: Kernel,
        config: LambdaConfig,
        run: Callable[[Invocation, Task], Any],
        started: Callable[[Invocation], None],
        finished: Callable[[Invocation], None],
    ) -> None:
        self.kernel, self.config = kernel, config
        self.run, self.started, self.finished = run, started, finished
        self.queue: deque[_Queued] = deque()
        self.running = 0
        self.dead_letters: list[_Queued] = []
        self.invocations: list[Invocation] = []
        # Lambda runs concurrent invocations in separate execution environments and reuses idle ones
        # (Lambda Developer Guide, "Lambda execution environment"): each keeps its own module state.
        self.idle_environments: list[dict[str, Any]] = []
        self.environments = 0

    def invoke_async(self, payload: dict[str, Any], trigger: str) -> None:
        self.queue.append(_Queued(trigger, payload, self.kernel.now))
        self._dispatch()

    def _dispatch(self) -> None:
        config = self.config
        while self.running < config.reserved_concurrency and self.queue:
            item = self.queue.popleft()
            if self.kernel.now - item.first_queued > config.maximum_event_age_s:
                self.dead_letters.append(item)
                continue
            self.running += 1
            self._start(item)

    def _start(self, item: _Queued) -> None:
        kernel = self.kernel
        invocation = Invocation(item.trigger, item.payload, item.first_queued, item.attempt, start=kernel.now)
        self.invocations.append(invocation)
        self.started(invocation)
        task_box: list[Task] = []

        def body() -> Any:
            return self.run(invocation, task_box[0])

        task = Task(kernel, body, kernel.now + config_timeout(self.config), lambda t: self._done(item, invocation, t))
        task_box.append(task)
        if self.idle_environments:
            task.environment = self.idle_environments.pop()
        else:
            self.environments += 1
            task.environment = {"rds_budgets": {}}
        task.start()

    def _done(self, item: _Queued, invocation: Invocation, task: Task) -> None:
        invocation.end = task.ended
        self.idle_environments.append(task.environment)
        if isinstance(task.error, LambdaTimeout):
            invocation.error = "Task timed out"
        elif task.error is not None:
            invocation.error = type(task.error).__name__
        self.running -= 1
        self.finished(invocation)
        if invocation.error:
            if item.attempt < self.config.maximum_retry_attempts:
                delay = self.config.retry_delays_s[min(item.attempt, len(self.config.retry_delays_s) - 1)]
                item.attempt += 1
                self.kernel.at(self.kernel.now + delay, lambda: self._requeue(item))
            else:
                self.dead_letters.append(item)
        self.kernel.at(self.kernel.now, self._dispatch)

    def _requeue(self, item: _Queued) -> None:
        self.queue.append(item)
        self._dispatch()


def config_timeout(config: LambdaConfig) -> float:
    return config.timeout_s
