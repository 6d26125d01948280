"""Closed sets of values the data model stores, as strings in the database."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


class CentreTier(enum.StrEnum):
    STREET = "street"
    COMMUNITY = "community"


class StaffRole(enum.StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    COMMUNITY_WORKER = "community_worker"
    ADMIN = "admin"


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class LivingSituation(enum.StrEnum):
    ALONE = "alone"  # 独居
    WITH_SPOUSE = "with_spouse"  # 空巢
    WITH_CHILDREN = "with_children"  # 与子女同住
    OTHER = "other"  # 其他


class SelfCare(enum.StrEnum):
    INDEPENDENT = "independent"  # 自理
    PARTLY_DEPENDENT = "partly_dependent"  # 半失能
    DEPENDENT = "dependent"  # 失能
    UNKNOWN = "unknown"  # not stated, or not readable in the register


class IssueSeverity(enum.StrEnum):
    REJECTED = "rejected"
    WARNING = "warning"


def string_enum(enum_class: type[enum.StrEnum], length: int = 32) -> Enum:
    """A portable enum column: a checked VARCHAR holding the member's value, no native type."""
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
        create_constraint=True,
        name=enum_class.__name__.lower(),
    )
