"""The demo staff of the street and community centres (real deployments add their own)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faker import Faker

from callcenter.centres.schemas import CentreFacts
from kernel.models import CentreTier, StaffRole


def demo_staff(facts: Sequence[CentreFacts], seed: int = 20261123) -> list[dict[str, Any]]:
    """Operators and supervisors at the street centre, workers at each community centre, one admin."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    staff: list[dict[str, Any]] = []

    def add(centre: str, role: StaffRole, username: str) -> None:
        staff.append(
            {
                "centre_code": centre,
                "name": fake.name(),
                "role": role,
                "username": username,
                "phone": fake.phone_number(),
            }
        )

    for fact in facts:
        if fact.tier is CentreTier.STREET:
            for number in range(1, fact.operators + 1):
                add(fact.code, StaffRole.OPERATOR, f"op{number}")
            for number in range(1, fact.supervisors + 1):
                add(fact.code, StaffRole.SUPERVISOR, f"sup{number}")
            add(fact.code, StaffRole.ADMIN, "admin")
        else:
            for number in range(1, fact.workers + 1):
                add(fact.code, StaffRole.COMMUNITY_WORKER, f"{fact.code.lower()}-w{number}")
    return staff
