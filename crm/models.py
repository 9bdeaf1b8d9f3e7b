"""Imports every feature's models so the metadata is complete (Alembic, tests)."""

from crm.audit.models import AuditEvent
from crm.auth.models import ApiToken, HandoffRule, Role, Team, User
from crm.cadences.models import Cadence, CadenceEnrollment, CadenceStep, EnrollmentState
from crm.contacts.models import Account, Contact, ContactHandle
from crm.email.models import EmailStatus, EmailTemplate, OutboundEmail, Suppression, TemplateKind
from crm.handoffs.models import Handoff, HandoffStatus
from crm.imports.models import ImportJob, ImportStatus
from crm.integrations.models import InboundEvent, Integration, IntegrationChannel, ScreenPop
from crm.leads.models import Campaign, Lead, LeadStatus, LostReason, Source, Stage, StageChange
from crm.queue import models as _queue_indexes  # noqa: F401  (indexes on tasks and enrollments)
from crm.reports.models import ActivityDay, ActivityHour, ActivityMark, RepLead, Target, TargetMetric
from crm.scheduler.models import JobRun, Setting
from crm.tasks.models import Task, TaskKind, TaskStatus
from crm.touches.models import Channel, Direction, Outcome, Survey, Touch

__all__ = [
    "ActivityDay", "ActivityHour", "ActivityMark", "RepLead",
    "Account", "ApiToken", "AuditEvent", "Cadence", "CadenceEnrollment", "CadenceStep", "Campaign", "Channel",
    "Contact", "ContactHandle", "Direction", "EmailStatus", "EmailTemplate", "EnrollmentState", "Handoff",
    "HandoffRule", "HandoffStatus", "ImportJob", "ImportStatus", "InboundEvent", "Integration", "IntegrationChannel",
    "JobRun", "Lead",
    "LeadStatus", "LostReason", "OutboundEmail", "Outcome", "Role", "ScreenPop", "Setting", "Source", "Stage", "StageChange",
    "Survey", "Suppression", "Target", "TargetMetric", "Task", "TaskKind", "TaskStatus", "Team", "TemplateKind",
    "Touch", "User",
]
