"""The calls AWS services make for the module, judged by the IAM evaluator against what Terraform deployed.

The function's role is not the only principal the module authorizes. For every root module of the stage,
what Terraform deployed is read back from the stand-in (schedules, rules and their targets, role trust and
identity policies, the function's resource policy, topic, queue, bus and key policies, alarms) and every
call a service makes for it is judged (judge.Access):

- EventBridge Scheduler assumes each schedule's role (the role's trust policy, with the aws:SourceAccount
  and aws:SourceArn Scheduler sends: the schedule *group* ARN), invokes the function with it, and writes
  what it cannot deliver to the schedule's dead-letter queue with it. EventBridge Scheduler User Guide,
  "Confused deputy prevention" (https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html:
  "The value of aws:SourceArn must be your EventBridge Scheduler schedule group ARN") and "Configuring a
  schedule's dead-letter queue" (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html:
  the execution role needs sqs:SendMessage).
- Each EventBridge rule that targets the function invokes it through the function's resource policy as
  events.amazonaws.com, with aws:SourceArn = the rule's ARN, and writes dead letters through the queue's
  policy. EventBridge User Guide, "Using resource-based policies for Amazon EventBridge"
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/resource-based-policies-eventbridge.html),
  "Cross-service confused deputy prevention" (https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html:
  "For EventBridge event bus rule targets, the value of aws:SourceArn must be the rule ARN") and "Using
  dead-letter queues to process undelivered events" (https://docs.aws.amazon.com/eventbridge/latest/userguide/rule-dlq.html).
- The destination region's copy rule assumes the copy-events role (trust policy, aws:SourceArn = that
  rule) and puts the event on the source region's bus with it (events:PutEvents: identity policy, bus
  policy). EventBridge User Guide, "Sending and receiving events between AWS Regions" and "Permissions for
  event buses" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html).
- CloudWatch publishes each alarm's actions to its topic as cloudwatch.amazonaws.com (sns:Publish against
  the topic policy) and, on an encrypted topic, SNS uses the topic's key for it (kms:GenerateDataKey and
  kms:Decrypt against the key policy), with aws:SourceAccount and aws:SourceArn = the alarm ARN. SNS
  Developer Guide, "Key management: enable compatibility between event sources from AWS services and
  encrypted topics" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
- Lambda writes a failed asynchronous invocation to the function's dead-letter queue with the function's
  execution role (sqs:SendMessage; on a queue under a customer managed key also kms:GenerateDataKey and
  kms:Decrypt through SQS). Lambda Developer Guide, "Dead-letter queues"
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq).

Every call must be allowed. Probes that must be denied (another account's rule or alarm, another schedule
group, another principal assuming a role, a role used beyond its target) are judged too, and each probe is
shown to matter: with the condition (or scope) it relies on removed from the deployed policy, the same
request is allowed.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from deployment import Deployed, RecordedRun, read_policies
from judge import Access, AccessVerdict, Policies, judge_access
from stand_in import REPO, DeployedFunction

pytestmark = pytest.mark.authz

OTHER_ACCOUNT = "210987654321"
REPORT = REPO / ".cache" / "logs" / "authz-service-judged.txt"

# What is judged, by kind (the report counts them; every root module must exercise each one).
ASSUME_SCHEDULE_ROLE = "Scheduler assumes the schedule role (trust policy)"
SCHEDULE_INVOKES = "schedule role invokes the function (identity, boundary, function policy)"
SCHEDULE_DEAD_LETTER = "schedule role writes the schedule's dead-letter queue"
RULE_INVOKES = "EventBridge rule invokes the function (function policy)"
RULE_DEAD_LETTER = "EventBridge rule writes its dead-letter queue (queue policy)"
ASSUME_FORWARDING_ROLE = "EventBridge assumes the copy-events role (trust policy)"
FORWARDING_PUTS = "copy-events role puts the event on the source bus (identity, boundary, bus policy)"
ALARM_PUBLISHES = "CloudWatch alarm publishes to its topic (topic policy)"
ALARM_USES_TOPIC_KEY = "CloudWatch alarm uses the topic's key (key policy)"
FUNCTION_DEAD_LETTER = "Lambda writes the function's dead-letter queue (execution role)"
QUEUE_KEY = "dead letters under the queue's customer managed key (key policy)"
EVERY_KIND = {
    ASSUME_SCHEDULE_ROLE,
    SCHEDULE_INVOKES,
    SCHEDULE_DEAD_LETTER,
    RULE_INVOKES,
    RULE_DEAD_LETTER,
    ASSUME_FORWARDING_ROLE,
    FORWARDING_PUTS,
    ALARM_PUBLISHES,
    ALARM_USES_TOPIC_KEY,
    FUNCTION_DEAD_LETTER,
}


# --- what Terraform deployed, read back from the stand-in ------------------------------------------


@dataclass
class Role:
    arn: str
    trust: dict[str, Any]
    policies: Policies  # identity policies and boundary


@dataclass
class Function:
    name: str
    arn: str
    role_arn: str
    policy: dict[str, Any] | None  # the function's resource policy (lambda:GetPolicy)
    dead_letter_arn: str | None


@dataclass
class ServiceEstate:
    """Everything of one root module that a service principal acts on."""

    example: str
    account: str
    source_region: str
    destination_region: str
    functions: dict[str, Function] = field(default_factory=dict)  # by ARN
    schedules: list[dict[str, Any]] = field(default_factory=list)  # scheduler:GetSchedule
    schedule_groups: dict[str, str] = field(default_factory=dict)  # name -> ARN
    rules: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = field(
        default_factory=list
    )  # (region, rule, targets)
    buses: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # bus ARN -> its policy
    roles: dict[str, Role] = field(default_factory=dict)  # by ARN
    topics: dict[str, dict[str, str]] = field(default_factory=dict)  # ARN -> attributes
    queues: dict[str, dict[str, str]] = field(default_factory=dict)  # ARN -> attributes
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # key ARN (or the id a resource names) -> policy
    key_arns: dict[str, str] = field(default_factory=dict)  # the id a topic or queue names -> key ARN
    alarms: list[dict[str, Any]] = field(default_factory=list)


def _region(arn: str) -> str:
    return arn.split(":")[3]


def _policy(text: str | None) -> dict[str, Any] | None:
    return json.loads(text) if text else None


def read_estate(example: str, deployed: Deployed, account: str) -> ServiceEstate:
    aws, estate = deployed.aws, deployed.estate
    src, dst = estate.source_region, estate.destination_region
    found = ServiceEstate(example, account, src, dst)

    lam = aws.client("lambda", src)
    for listed in lam.get_paginator("list_functions").paginate():
        for config in listed["Functions"]:
            name = config["FunctionName"]
            try:
                policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
            except lam.exceptions.ResourceNotFoundException:  # no resource policy at all
                policy = None
            dead_letter = (config.get("DeadLetterConfig") or {}).get("TargetArn")
            found.functions[config["FunctionArn"]] = Function(
                name, config["FunctionArn"], config["Role"], policy, dead_letter
            )

    scheduler = aws.client("scheduler", src)
    for group in scheduler.list_schedule_groups()["ScheduleGroups"]:
        found.schedule_groups[group["Name"]] = group["Arn"]
    for listed in scheduler.get_paginator("list_schedules").paginate():
        for summary in listed["Schedules"]:
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
            schedule.pop("ResponseMetadata", None)
            found.schedules.append(schedule)

    for region in (src, dst):
        events = aws.client("events", region)
        for listed in events.get_paginator("list_rules").paginate():
            for rule in listed["Rules"]:
                targets = events.list_targets_by_rule(
                    Rule=rule["Name"], EventBusName=rule.get("EventBusName", "default")
                )
                found.rules.append((region, rule, targets["Targets"]))
    for _region_name, _rule, targets in found.rules:
        for target in targets:
            if ":event-bus/" in target["Arn"] and target["Arn"] not in found.buses:
                bus = aws.client("events", _region(target["Arn"])).describe_event_bus(
                    Name=target["Arn"].rsplit("/", 1)[-1]
                )
                found.buses[target["Arn"]] = _policy(bus.get("Policy"))

    cloudwatch = aws.client("cloudwatch", src)
    for listed in cloudwatch.get_paginator("describe_alarms").paginate():
        found.alarms += listed["MetricAlarms"] + listed.get("CompositeAlarms", [])

    sns = aws.client("sns", src)
    for alarm in found.alarms:
        for arn in _alarm_topics(alarm):
            if arn not in found.topics:
                found.topics[arn] = sns.get_topic_attributes(TopicArn=arn)["Attributes"]

    queue_arns = {f.dead_letter_arn for f in found.functions.values() if f.dead_letter_arn}
    queue_arns |= {
        s["Target"]["DeadLetterConfig"]["Arn"] for s in found.schedules if s["Target"].get("DeadLetterConfig")
    }
    queue_arns |= {
        t["DeadLetterConfig"]["Arn"] for _r, _rule, ts in found.rules for t in ts if t.get("DeadLetterConfig")
    }
    for arn in sorted(queue_arns):
        sqs = aws.client("sqs", _region(arn))
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1], QueueOwnerAWSAccountId=arn.split(":")[4])["QueueUrl"]
        found.queues[arn] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    # The keys of encrypted topics and queues (an alias or key id resolves to the key's ARN).
    for region, key_id in [(_region(a), t.get("KmsMasterKeyId")) for a, t in found.topics.items()] + [
        (_region(a), q.get("KmsMasterKeyId")) for a, q in found.queues.items()
    ]:
        if key_id and key_id not in found.key_arns:
            kms = aws.client("kms", region)
            key_arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
            found.key_arns[key_id] = key_arn
            found.keys[key_arn] = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])

    iam = aws.client("iam", src)
    role_arns = {s["Target"]["RoleArn"] for s in found.schedules if s["Target"].get("RoleArn")}
    role_arns |= {t["RoleArn"] for _r, _rule, ts in found.rules for t in ts if t.get("RoleArn")}
    role_arns |= {f.role_arn for f in found.functions.values()}
    any_function = DeployedFunction.read(aws, src, next(iter(found.functions.values())).name)
    for arn in sorted(role_arns):
        trust = iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        found.roles[arn] = Role(arn, trust, read_policies(aws, any_function, arn, []))
    return found


def _alarm_topics(alarm: dict[str, Any]) -> list[str]:
    actions = alarm.get("AlarmActions", []) + alarm.get("OKActions", []) + alarm.get("InsufficientDataActions", [])
    return sorted({a for a in actions if a.split(":")[2] == "sns"})


# --- each service call as the authorizations AWS performs for it ---------------------------------


def _source(account: str, arn: str) -> dict[str, str | list[str]]:
    """The context a service sends when it acts for one of its resources (aws:SourceAccount, aws:SourceArn)."""
    return {"aws:SourceAccount": account, "aws:SourceArn": arn}


def _as_role(role: Role, kind: str, action: str, resource: str, account: str, where: str, **extra: Any) -> Access:
    return Access(
        kind,
        role.arn,
        action,
        resource,
        account,
        identity=role.policies.identity,
        boundary=role.policies.boundary,
        where=where,
        **extra,
    )


def _queue_accesses(
    e: ServiceEstate, principal: Role | str, queue_arn: str, kind: str, where: str, context: dict
) -> list[Access]:
    """sqs:SendMessage to a dead-letter queue, and its key's operations if a customer managed key encrypts it."""
    attributes = e.queues[queue_arn]
    queue_policy = _policy(attributes.get("Policy"))
    if isinstance(principal, Role):
        accesses = [
            _as_role(principal, kind, "sqs:SendMessage", queue_arn, e.account, where, resource_policy=queue_policy)
        ]
    else:
        accesses = [
            Access(
                kind,
                principal,
                "sqs:SendMessage",
                queue_arn,
                e.account,
                dict(context),
                resource_policy=queue_policy,
                where=where,
            )
        ]
    key_id = attributes.get("KmsMasterKeyId")
    if key_id:
        key_arn = e.key_arns[key_id]
        # SQS generates and decrypts the data key with the sender's permissions, through SQS.
        key_context = {"kms:ViaService": f"sqs.{_region(queue_arn)}.amazonaws.com", **context}
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            if isinstance(principal, Role):
                key_context["kms:CallerAccount"] = e.account
                accesses.append(
                    _as_role(
                        principal,
                        QUEUE_KEY,
                        action,
                        key_arn,
                        e.account,
                        where,
                        context=dict(key_context),
                        resource_policy=e.keys[key_arn],
                    )
                )
            else:
                accesses.append(
                    Access(
                        QUEUE_KEY,
                        principal,
                        action,
                        key_arn,
                        e.account,
                        dict(key_context),
                        resource_policy=e.keys[key_arn],
                        where=where,
                    )
                )
    return accesses


def service_accesses(e: ServiceEstate) -> list[Access]:
    found: list[Access] = []
    # EventBridge Scheduler: assume the schedule's role, invoke the target with it, write dead letters with it.
    for schedule in e.schedules:
        target, where = schedule["Target"], f"schedule {schedule['Name']}"
        role = e.roles[target["RoleArn"]]
        group_arn = e.schedule_groups[schedule.get("GroupName") or "default"]
        found.append(
            Access(
                ASSUME_SCHEDULE_ROLE,
                "scheduler.amazonaws.com",
                "sts:AssumeRole",
                role.arn,
                e.account,
                _source(e.account, group_arn),
                resource_policy=role.trust,
                where=where,
            )
        )
        function = e.functions[target["Arn"]]
        found.append(
            _as_role(
                role,
                SCHEDULE_INVOKES,
                "lambda:InvokeFunction",
                function.arn,
                e.account,
                where,
                resource_policy=function.policy,
            )
        )
        if target.get("DeadLetterConfig"):
            found += _queue_accesses(e, role, target["DeadLetterConfig"]["Arn"], SCHEDULE_DEAD_LETTER, where, {})
    # EventBridge rules: a function target through the function's policy; a bus target through a role.
    for _region_name, rule, targets in e.rules:
        for target in targets:
            where, context = f"rule {rule['Arn']} -> {target['Arn']}", _source(e.account, rule["Arn"])
            if target.get("RoleArn"):
                role = e.roles[target["RoleArn"]]
                found.append(
                    Access(
                        ASSUME_FORWARDING_ROLE,
                        "events.amazonaws.com",
                        "sts:AssumeRole",
                        role.arn,
                        e.account,
                        dict(context),
                        resource_policy=role.trust,
                        where=where,
                    )
                )
                if ":event-bus/" in target["Arn"]:
                    found.append(
                        _as_role(
                            role,
                            FORWARDING_PUTS,
                            "events:PutEvents",
                            target["Arn"],
                            e.account,
                            where,
                            resource_policy=e.buses[target["Arn"]],
                        )
                    )
            elif target["Arn"] in e.functions:
                function = e.functions[target["Arn"]]
                found.append(
                    Access(
                        RULE_INVOKES,
                        "events.amazonaws.com",
                        "lambda:InvokeFunction",
                        function.arn,
                        e.account,
                        dict(context),
                        resource_policy=function.policy,
                        where=where,
                    )
                )
            if target.get("DeadLetterConfig"):
                found += _queue_accesses(
                    e, "events.amazonaws.com", target["DeadLetterConfig"]["Arn"], RULE_DEAD_LETTER, where, context
                )
    # CloudWatch alarms: publish to each action's topic, and use the topic's key for it.
    for alarm in e.alarms:
        for topic_arn in _alarm_topics(alarm):
            attributes, where = e.topics[topic_arn], f"alarm {alarm['AlarmName']} -> {topic_arn}"
            context = _source(e.account, alarm["AlarmArn"])
            found.append(
                Access(
                    ALARM_PUBLISHES,
                    "cloudwatch.amazonaws.com",
                    "sns:Publish",
                    topic_arn,
                    e.account,
                    dict(context),
                    resource_policy=_policy(attributes.get("Policy")),
                    where=where,
                )
            )
            if attributes.get("KmsMasterKeyId"):
                key_arn = e.key_arns[attributes["KmsMasterKeyId"]]
                for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    found.append(
                        Access(
                            ALARM_USES_TOPIC_KEY,
                            "cloudwatch.amazonaws.com",
                            action,
                            key_arn,
                            e.account,
                            dict(context),
                            resource_policy=e.keys[key_arn],
                            where=where,
                        )
                    )
    # Lambda: a failed asynchronous invocation goes to the function's dead-letter queue, with its role.
    for function in e.functions.values():
        if function.dead_letter_arn:
            found += _queue_accesses(
                e,
                e.roles[function.role_arn],
                function.dead_letter_arn,
                FUNCTION_DEAD_LETTER,
                f"function {function.name}",
                {},
            )
    return found


# --- probes: what no service may do for the module, each shown to depend on what denies it ----------


@dataclass
class Probe:
    what: str
    access: Access
    relax: Callable[[Access], Access]  # the same request against the policy without what should deny it


def _drop_conditions(policy: dict[str, Any] | None, *keys: str) -> dict[str, Any] | None:
    """The policy with the named condition keys removed from every statement (case-insensitively)."""
    if policy is None:
        return None
    relaxed = copy.deepcopy(policy)
    lowered = {k.lower() for k in keys}
    statements = relaxed["Statement"] if isinstance(relaxed["Statement"], list) else [relaxed["Statement"]]
    for statement in statements:
        condition = statement.get("Condition", {})
        for operator in list(condition):
            for key in list(condition[operator]):
                if key.lower() in lowered:
                    del condition[operator][key]
            if not condition[operator]:
                del condition[operator]
        if "Condition" in statement and not statement["Condition"]:
            del statement["Condition"]
    return relaxed


def _without(*keys: str) -> Callable[[Access], Access]:
    return lambda a: replace(a, resource_policy=_drop_conditions(a.resource_policy, *keys))


def _trusting(principal: str) -> Callable[[Access], Access]:
    """The trust policy with `principal` added to each statement's service principals."""

    def relax(a: Access) -> Access:
        policy = copy.deepcopy(a.resource_policy) or {"Statement": []}
        for statement in policy["Statement"]:
            services = statement.get("Principal", {}).get("Service")
            if services is not None:
                statement["Principal"]["Service"] = [
                    *([services] if isinstance(services, str) else services),
                    principal,
                ]
        return replace(a, resource_policy=policy)

    return relax


def _any_resource(a: Access) -> Access:
    """The role's identity policies with every Resource widened to "*" (its scope removed)."""
    widened = []
    for entry in a.identity:
        policy = copy.deepcopy(entry["policy"])
        for statement in policy["Statement"]:
            if "Resource" in statement:
                statement["Resource"] = "*"
        widened.append({**entry, "policy": policy})
    return replace(a, identity=widened)


def _other_account(arn: str) -> str:
    parts = arn.split(":")
    parts[4] = OTHER_ACCOUNT
    return ":".join(parts)


def service_probes(e: ServiceEstate, judged: list[Access]) -> list[Probe]:
    """Derived from the calls that are allowed: the same call from where it must not come."""
    probes: list[Probe] = []
    seen: set[tuple[str, str]] = set()

    def once(kind: str, resource: str) -> bool:
        if (kind, resource) in seen:
            return False
        seen.add((kind, resource))
        return True

    for a in judged:
        source_arn = str(a.context.get("aws:SourceArn", ""))
        if a.kind == RULE_INVOKES and once(a.kind, a.resource):
            foreign = _other_account(source_arn)
            probes.append(
                Probe(
                    "a rule of another account invokes the function",
                    replace(a, context=_source(OTHER_ACCOUNT, foreign), where=f"{a.where}, from {foreign}"),
                    _without("aws:SourceArn", "aws:SourceAccount"),
                )
            )
            stranger = source_arn.rsplit("/", 1)[0] + "/someone-elses-rule"
            probes.append(
                Probe(
                    "another rule of this account invokes the function",
                    replace(a, context=_source(e.account, stranger), where=f"{a.where}, from {stranger}"),
                    _without("aws:SourceArn"),
                )
            )
        elif a.kind == RULE_DEAD_LETTER and once(a.kind, a.resource):
            foreign = _other_account(source_arn)
            probes.append(
                Probe(
                    "a rule of another account writes the dead-letter queue",
                    replace(a, context=_source(OTHER_ACCOUNT, foreign), where=f"{a.where}, from {foreign}"),
                    _without("aws:SourceArn", "aws:SourceAccount"),
                )
            )
        elif a.kind == ASSUME_SCHEDULE_ROLE and once(a.kind, a.resource):
            probes += [
                Probe(
                    "EventBridge (not Scheduler) assumes the schedule role",
                    replace(a, principal="events.amazonaws.com"),
                    _trusting("events.amazonaws.com"),
                ),
                Probe(
                    "Lambda assumes the schedule role",
                    replace(a, principal="lambda.amazonaws.com"),
                    _trusting("lambda.amazonaws.com"),
                ),
                Probe(
                    "Scheduler assumes the schedule role for another schedule group of this account",
                    replace(a, context=_source(e.account, source_arn.rsplit("/", 1)[0] + "/default")),
                    _without("aws:SourceArn"),
                ),
                Probe(
                    "Scheduler assumes the schedule role for another account's schedule group",
                    replace(a, context=_source(OTHER_ACCOUNT, _other_account(source_arn))),
                    _without("aws:SourceArn", "aws:SourceAccount"),
                ),
            ]
        elif a.kind == SCHEDULE_INVOKES and once(a.kind, a.principal):
            other = a.resource.rsplit(":", 1)[0] + ":someone-elses-function"
            probes.append(
                Probe(
                    "the schedule role invokes another function",
                    replace(a, resource=other, resource_policy=None, where=f"{a.where}, {other}"),
                    _any_resource,
                )
            )
        elif a.kind == ASSUME_FORWARDING_ROLE and once(a.kind, a.resource):
            stranger = source_arn.rsplit("/", 1)[0] + "/someone-elses-rule"
            probes += [
                Probe(
                    "another rule of this account assumes the copy-events role",
                    replace(a, context=_source(e.account, stranger)),
                    _without("aws:SourceArn"),
                ),
                Probe(
                    "Scheduler (not EventBridge) assumes the copy-events role",
                    replace(a, principal="scheduler.amazonaws.com"),
                    _trusting("scheduler.amazonaws.com"),
                ),
            ]
        elif a.kind == FORWARDING_PUTS and once(a.kind, a.principal):
            other = a.resource.rsplit("/", 1)[0] + "/someone-elses-bus"
            probes.append(
                Probe(
                    "the copy-events role puts events on another bus",
                    replace(a, resource=other, resource_policy=None, where=f"{a.where}, {other}"),
                    _any_resource,
                )
            )
        elif a.kind == ALARM_PUBLISHES and once(a.kind, a.resource):
            foreign = _other_account(source_arn)
            probes.append(
                Probe(
                    "CloudWatch publishes for another account's alarm",
                    replace(a, context=_source(OTHER_ACCOUNT, foreign), where=f"{a.where}, for {foreign}"),
                    _without("aws:SourceArn", "aws:SourceAccount"),
                )
            )
    return probes


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def service_estates(recorded: dict[str, list[RecordedRun]]) -> dict[str, ServiceEstate]:
    # One root module per thread: each has its own stand-in.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(recorded))) as pool:
        futures = {
            example: pool.submit(read_estate, example, runs[0].deployed, runs[0].where.account)
            for example, runs in recorded.items()
        }
        return {example: future.result() for example, future in futures.items()}


@pytest.fixture(scope="session")
def service_verdicts(service_estates: dict[str, ServiceEstate]) -> dict[str, list[AccessVerdict]]:
    return {example: judge_access(service_accesses(e)) for example, e in service_estates.items()}


# --- tests ------------------------------------------------------------------------------------------


def test_every_service_call_for_the_module_is_allowed(service_estates, service_verdicts):
    # What was judged, for the stage's output (scripts/test prints it after the tests).
    counted = collections.Counter(v.access.kind for judged in service_verdicts.values() for v in judged)
    lines = [f"{count:5d}  {kind}" for kind, count in sorted(counted.items())]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        f"service-principal authorizations judged: {sum(counted.values())} ({len(counted)} kinds,"
        f" {len(service_verdicts)} root modules), by kind:\n" + "\n".join(lines) + "\n"
    )
    denied = [
        f"{example}: {v.describe()}" for example, judged in service_verdicts.items() for v in judged if not v.allowed
    ]
    assert denied == [], "a service's call for the module is denied in a real account:\n" + "\n".join(denied)


def test_every_root_module_has_every_kind_of_service_call(service_verdicts):
    """Every root module deploys schedules, rules, the copy forwarding, alarms on an encrypted topic and a
    dead-letter queue: a kind that is not judged means the reading above missed what Terraform deployed."""
    missing = {
        example: sorted(EVERY_KIND - {v.access.kind for v in judged})
        for example, judged in service_verdicts.items()
        if EVERY_KIND - {v.access.kind for v in judged}
    }
    assert missing == {}


def test_the_schedules_invoke_every_function_on_its_own_schedule_group(service_estates):
    """At least backup and reconcile per function, each in the module's own group (the one its role trusts)."""
    for e in service_estates.values():
        per_function = collections.Counter(s["Target"]["Arn"] for s in e.schedules)
        assert set(per_function) == set(e.functions), e.example
        assert min(per_function.values()) >= 2, e.example
        for schedule in e.schedules:
            assert schedule["GroupName"] != "default", schedule["Name"]


def test_the_dead_letter_queues_need_no_key_permission(service_estates):
    """The dead-letter queue uses SQS managed encryption (SSE-SQS): no KMS permission is involved for its
    senders. A queue under a customer managed key would be judged too (QUEUE_KEY)."""
    for e in service_estates.values():
        assert e.queues, e.example
        # Every function sends what it could not process to a queue (the stand-in keeps DeadLetterConfig).
        assert [f.name for f in e.functions.values() if not f.dead_letter_arn] == [], e.example
        for arn, attributes in e.queues.items():
            assert attributes.get("SqsManagedSseEnabled") == "true", arn
            assert not attributes.get("KmsMasterKeyId"), arn


def _probes(service_estates, service_verdicts) -> list[tuple[str, Probe]]:
    return [
        (example, probe)
        for example, e in service_estates.items()
        for probe in service_probes(e, [v.access for v in service_verdicts[example]])
    ]


def test_every_service_probe_is_denied(service_estates, service_verdicts):
    probes = _probes(service_estates, service_verdicts)
    verdicts = judge_access([p.access for _, p in probes])
    allowed = [
        f"{example}: {p.what}: {v.describe()}" for (example, p), v in zip(probes, verdicts, strict=True) if not v.denied
    ]
    assert len(probes) >= 10 * len(service_estates)
    assert {p.what for _, p in probes} >= {
        "a rule of another account invokes the function",
        "CloudWatch publishes for another account's alarm",
        "EventBridge (not Scheduler) assumes the schedule role",
    }
    assert allowed == [], "allowed, but must be denied:\n" + "\n".join(allowed)


def test_every_service_probe_is_denied_by_what_it_names(service_estates, service_verdicts):
    """Each probe matters: without the condition (or resource scope, or trusted principal) that should deny
    it, the same request is allowed. A probe denied for any other reason (a malformed request, a policy
    that allows nothing) would pass the probe test and prove nothing."""
    probes = _probes(service_estates, service_verdicts)
    verdicts = judge_access([p.relax(p.access) for _, p in probes])
    still_denied = [
        f"{example}: {p.what}: {v.describe()}"
        for (example, p), v in zip(probes, verdicts, strict=True)
        if not v.allowed
    ]
    assert still_denied == []


def test_a_judgement_without_the_source_the_service_sends_is_denied(service_estates, service_verdicts):
    """The conditions are judged on the context: a call without aws:SourceArn / aws:SourceAccount (a
    service that sent none) is denied by every policy that scopes the service to the module's resources."""
    scoped = (ASSUME_SCHEDULE_ROLE, ASSUME_FORWARDING_ROLE, RULE_INVOKES, RULE_DEAD_LETTER, ALARM_PUBLISHES)
    bare = [
        replace(v.access, context={}) for judged in service_verdicts.values() for v in judged if v.access.kind in scoped
    ]
    assert {a.kind for a in bare} == set(scoped)
    allowed = [v.describe() for v in judge_access(bare) if not v.denied]
    assert allowed == []


def _boundary_without(boundary: dict[str, Any], *actions: str) -> dict[str, Any]:
    narrowed = copy.deepcopy(boundary)
    for statement in narrowed["Statement"]:
        if statement.get("Effect") == "Allow" and isinstance(statement.get("Action"), list):
            statement["Action"] = [a for a in statement["Action"] if a not in actions]
    return narrowed


def test_a_boundary_for_the_function_alone_denies_the_schedules_and_the_forwarding(service_estates, service_verdicts):
    """The boundary applies to the scheduler's and the copy-events role too. tests/authz/boundary once allowed
    only the function's actions (the documented requirement then): every scheduled run and every forwarded
    finished-copy event was denied. Judged here on that boundary, so the check cannot go quiet."""
    if "boundary" not in service_estates:
        pytest.skip("needs the boundary configuration (AUTHZ_ROOT_MODULES without boundary)")
    bounded = [
        v.access
        for v in service_verdicts["boundary"]
        if v.access.kind in (SCHEDULE_INVOKES, FORWARDING_PUTS) and v.access.boundary is not None
    ]
    assert {a.kind for a in bounded} == {SCHEDULE_INVOKES, FORWARDING_PUTS}
    old = [
        replace(a, boundary=_boundary_without(a.boundary or {}, "lambda:InvokeFunction", "events:PutEvents"))
        for a in bounded
    ]
    assert [v.result for v in judge_access(old)] == ["ImplicitlyDenied"] * len(old)


def test_a_queue_under_a_customer_managed_key_needs_the_senders_key_permissions():
    """The deployed queues use SSE-SQS, so the key branch is judged here on a queue under a customer managed
    key: the sender needs kms:GenerateDataKey and kms:Decrypt on it through SQS (Lambda Developer Guide,
    "Dead-letter queues"; SQS Developer Guide, "Key management"), or its dead letters are lost."""
    account, region = "123456789012", "us-east-1"
    queue = f"arn:aws:sqs:{region}:{account}:dlq"
    key = f"arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    root = {"AWS": f"arn:aws:iam::{account}:root"}
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*"}],
    }

    def role(*statements: dict[str, Any]) -> Role:
        policy = {"Version": "2012-10-17", "Statement": list(statements)}
        arn = f"arn:aws:iam::{account}:role/fn"
        return Role(arn, {}, Policies(arn, [{"name": "fn", "policy": policy}]))

    send = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue}
    use_key = {
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}},
    }
    e = ServiceEstate("synthetic", account, region, "us-west-2", queues={queue: {"KmsMasterKeyId": "alias/dlq"}})
    e.key_arns["alias/dlq"], e.keys[key] = key, key_policy

    with_key = _queue_accesses(e, role(send, use_key), queue, FUNCTION_DEAD_LETTER, "fn", {})
    without_key = _queue_accesses(e, role(send), queue, FUNCTION_DEAD_LETTER, "fn", {})

    assert [(a.kind, a.action) for a in with_key] == [
        (FUNCTION_DEAD_LETTER, "sqs:SendMessage"),
        (QUEUE_KEY, "kms:GenerateDataKey"),
        (QUEUE_KEY, "kms:Decrypt"),
    ]
    assert [v.result for v in judge_access(with_key)] == ["Allowed"] * 3
    assert [v.result for v in judge_access(without_key)] == ["Allowed", "ImplicitlyDenied", "ImplicitlyDenied"]
