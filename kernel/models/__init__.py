"""All ORM models, in one place; import from here."""

from kernel.models.accounts import SignInFailures, StaffSession
from kernel.models.alarm_receivers import AlarmReceiverAccount
from kernel.models.audit import AuditEntry
from kernel.models.base import Base, as_utc, utcnow
from kernel.models.baselines import TrendDirection, VitalBaseline, VitalTrend
from kernel.models.care_calls import (
    CareCall,
    CareCallAttempt,
    CareCallOutcome,
    CareCallReason,
    CareCallStatus,
    WeatherKind,
    WeatherWarning,
)
from kernel.models.centres import Centre, Shift, StaffMember
from kernel.models.coverage import AbsenceReason, CoverageNotice, CoverageReach, ShiftAbsence
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
from kernel.models.family import (
    WAITING_STATES,
    FamilyMessage,
    FamilyOptOut,
    FamilyReply,
    FamilyStep,
    ReplyKind,
    SmsState,
)
from kernel.models.gateway import RAW_KEPT_BYTES, DeviceEvent, RejectedMessage
from kernel.models.incidents import (
    OPEN_STATUSES,
    DeviceNotice,
    Incident,
    IncidentEntry,
    IncidentKind,
    IncidentStatus,
    Outcome,
)
from kernel.models.register import RegisterImport, RegisterIssue
from kernel.models.shifts import HandoverNote, HandoverNoteRead
from kernel.models.voice import (
    FINAL_CALL_STATES,
    CallState,
    CallTarget,
    TerminalLine,
    VoiceCall,
)
from kernel.models.work_orders import (
    OPEN_WORK_ORDER_STATUSES,
    MaintenanceReason,
    MaintenanceResult,
    ProviderKind,
    ServiceNeed,
    ServiceProvider,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
    WorkOrderStep,
)

__all__ = [
    "FINAL_CALL_STATES",
    "OPEN_STATUSES",
    "OPEN_WORK_ORDER_STATUSES",
    "RAW_KEPT_BYTES",
    "WAITING_STATES",
    "AbsenceReason",
    "AlarmReceiverAccount",
    "AuditEntry",
    "AwayPeriod",
    "Base",
    "CallState",
    "CallTarget",
    "CareCall",
    "CareCallAttempt",
    "CareCallOutcome",
    "CareCallReason",
    "CareCallStatus",
    "Centre",
    "CentreTier",
    "CoverageNotice",
    "CoverageReach",
    "Device",
    "DeviceEvent",
    "DeviceNotice",
    "Elder",
    "EmergencyContact",
    "FamilyMessage",
    "FamilyOptOut",
    "FamilyReply",
    "FamilyStep",
    "HandoverNote",
    "HandoverNoteRead",
    "Incident",
    "IncidentEntry",
    "IncidentKind",
    "IncidentStatus",
    "IssueSeverity",
    "LivingSituation",
    "MaintenanceReason",
    "MaintenanceResult",
    "Outcome",
    "ProviderKind",
    "RegisterImport",
    "RegisterIssue",
    "RejectedMessage",
    "ReplyKind",
    "SelfCare",
    "ServiceNeed",
    "ServiceProvider",
    "Sex",
    "Shift",
    "ShiftAbsence",
    "SignInFailures",
    "SmsState",
    "StaffMember",
    "StaffRole",
    "StaffSession",
    "TerminalLine",
    "TrendDirection",
    "VitalBaseline",
    "VitalThreshold",
    "VitalTrend",
    "VoiceCall",
    "WeatherKind",
    "WeatherWarning",
    "WorkOrder",
    "WorkOrderCategory",
    "WorkOrderStatus",
    "WorkOrderStep",
    "as_utc",
    "utcnow",
]
