"""Least-privilege ACLs of a secured local Kafka: the matrix as data, and applying it.

``User:livetally-admin`` and the nodes' own principals are super users (``super.users``)
and need no ACL; every other user gets exactly the grants below, and nothing is allowed
without one (``allow.everyone.if.no.acl.found=false``). Applying is idempotent: Kafka
keeps one copy of an ACL created twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from contract import topics as names
from contract.settings import KafkaSettings
from livetally.exceptions import KafkaUnavailable
from livetally.kafka_users import SERVICE_USERS

__all__ = [
    "WORKER_GROUP_PREFIX",
    "Grant",
    "acl_grants",
    "apply_grants",
    "grant_services",
    "present_grants",
]

logger = logging.getLogger(__name__)

WORKER_GROUP_PREFIX = "livetally-stream"
"""The stream worker's consumer group is its Faust app id (``LIVETALLY_STREAM_APP_ID``,
default ``livetally-stream`` in ``stream/config.py``); granted as a prefix so that
``livetally-stream-<suffix>`` app ids work too."""

Operation = Literal["READ", "WRITE"]
Resource = Literal["TOPIC", "GROUP"]
Pattern = Literal["LITERAL", "PREFIXED"]


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``user`` may do ``operation`` on a resource, from any host."""

    user: str
    operation: Operation
    resource: Resource
    name: str
    pattern: Pattern = "LITERAL"

    @property
    def principal(self) -> str:
        return f"User:{self.user}"


_INGEST_WRITES = (names.EVENTS, names.METRICS)
_INGEST_READS = (names.REGISTRY,)
_WORKER_READS = (
    names.EVENTS,
    names.REGISTRY,
    names.PARTIALS,
    names.STATS,
    names.ALERTS,
    names.DELIVERIES,
    names.METRICS,
    names.CHECKPOINTS,
)
_WORKER_WRITES = (
    names.PARTIALS,
    names.STATS,
    names.ALERTS,
    names.DELIVERIES,
    names.METRICS,
    names.DEADLETTER,
    names.CHECKPOINTS,
)


_DASHBOARD_READS = (names.REGISTRY, names.PARTIALS, names.STATS, names.ALERTS, names.METRICS)


def acl_grants(kafka: KafkaSettings) -> list[Grant]:
    """Every grant of the services' users, for ``kafka``'s topic names.

    Read implies Describe (metadata, offsets) and Write implies Describe, so producers
    and group-less consumers need nothing more; only the worker joins a consumer group.
    """
    ingest = SERVICE_USERS["ingest"]
    worker = SERVICE_USERS["worker"]
    dashboard = SERVICE_USERS["dashboard"]
    registrar = SERVICE_USERS["registrar"]
    grants = [Grant(ingest, "WRITE", "TOPIC", kafka.topic(n)) for n in _INGEST_WRITES]
    grants += [Grant(ingest, "READ", "TOPIC", kafka.topic(n)) for n in _INGEST_READS]
    grants += [Grant(worker, "READ", "TOPIC", kafka.topic(n)) for n in _WORKER_READS]
    grants += [Grant(worker, "WRITE", "TOPIC", kafka.topic(n)) for n in _WORKER_WRITES]
    grants.append(Grant(worker, "READ", "GROUP", WORKER_GROUP_PREFIX, "PREFIXED"))
    grants += [Grant(dashboard, "READ", "TOPIC", kafka.topic(n)) for n in _DASHBOARD_READS]
    grants.append(Grant(registrar, "WRITE", "TOPIC", kafka.topic(names.REGISTRY)))
    return sorted(grants)


def _acl(grant: Grant) -> Any:
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

    return ACL(
        principal=grant.principal,
        host="*",
        operation=ACLOperation[grant.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(
            ResourceType[grant.resource],
            grant.name,
            ACLResourcePatternType[grant.pattern],
        ),
    )


def present_grants(admin: Any) -> set[Grant]:
    """The ALLOW grants the broker's authorizer holds now (the ones this module makes)."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePatternFilter,
        ResourceType,
    )

    acls, _ = admin.describe_acls(
        ACLFilter(
            principal=None,
            host=None,
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePatternFilter(
                ResourceType.ANY, None, ACLResourcePatternType.ANY
            ),
        )
    )
    found: set[Grant] = set()
    for acl in acls:
        pattern = acl.resource_pattern
        if (
            acl.host == "*"
            and acl.principal.startswith("User:")
            and acl.operation.name in ("READ", "WRITE")
            and pattern.resource_type.name in ("TOPIC", "GROUP")
            and pattern.pattern_type.name in ("LITERAL", "PREFIXED")
        ):
            found.add(
                Grant(
                    acl.principal.removeprefix("User:"),
                    acl.operation.name,
                    pattern.resource_type.name,
                    pattern.resource_name,
                    pattern.pattern_type.name,
                )
            )
    return found


def apply_grants(admin: Any, grants: Iterable[Grant], *, timeout_s: float = 30.0) -> None:
    """Create ``grants`` with a super user's kafka-python ``KafkaAdminClient`` and wait
    until the broker it talks to enforces them (ACLs reach brokers through the metadata
    log, a moment after the controller accepted them)."""
    wanted = set(grants)
    missing = wanted - present_grants(admin)
    if missing:
        result = admin.create_acls([_acl(g) for g in sorted(missing)])
        if result["failed"]:
            raise KafkaUnavailable(
                f"Kafka refused to create ACLs: {sorted({e.__name__ for e in result['failed']})}"
            )
        logger.info("created %d ACL(s)", len(missing))
    deadline = time.monotonic() + timeout_s
    while missing := wanted - present_grants(admin):
        if time.monotonic() > deadline:
            raise KafkaUnavailable(
                f"{len(missing)} ACL(s) created but not in force after {timeout_s:.0f} s"
            )
        time.sleep(0.2)


def grant_services(options: Mapping[str, Any], kafka: KafkaSettings) -> int:
    """Give the services' users their grants (``acl_grants``) on the cluster a super user's
    kafka-python ``options`` reach; return how many grants there are."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError, SecurityDisabledError

    try:
        admin = KafkaAdminClient(**options, client_id="livetally-kafka-acls")
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailable(f"cannot connect to create Kafka ACLs: {exc!r}") from exc
    try:
        grants = acl_grants(kafka)
        apply_grants(admin, grants)
        return len(grants)
    except SecurityDisabledError:
        raise KafkaUnavailable(
            "this Kafka cluster has no authorizer (authorizer.class.name), so it enforces no "
            "ACLs: enable one, or leave out --acls"
        ) from None
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailable(f"creating Kafka ACLs failed: {exc!r}") from exc
    finally:
        admin.close()
