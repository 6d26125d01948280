"""All ORM models, in one place; import from here."""

from kernel.models.audit import AuditEntry
from kernel.models.base import Base, utcnow
from kernel.models.centres import Centre, Shift, StaffMember
from kernel.models.devices import Device
from kernel.models.elders import AwayPeriod, Elder, EmergencyContact, VitalThreshold
from kernel.models.enums import (
    CentreTier,
    IssueSeverity,
    LivingSituation,
    SelfCare,
    Sex,
    StaffRole,
)
from kernel.models.register import RegisterImport, RegisterIssue

__all__ = [
    "AuditEntry",
    "AwayPeriod",
    "Base",
    "Centre",
    "CentreTier",
    "Device",
    "Elder",
    "EmergencyContact",
    "IssueSeverity",
    "LivingSituation",
    "RegisterImport",
    "RegisterIssue",
    "SelfCare",
    "Sex",
    "Shift",
    "StaffMember",
    "StaffRole",
    "VitalThreshold",
    "utcnow",
]
