"""work orders: service requests as work orders

The green key's requests become work orders (`work_orders`, their steps, the providers list);
a device notice may be about a work order instead of an incident.

Open `service` incidents (the green key before this revision, chased like alarms) are carried
over: each becomes a work order of its elder's community centre with the need its key press
said, new (accepted, when someone had acknowledged the incident), and the incident is closed
with the outcome `referred` and a step `became_work_order` naming the order (`ref` W<id>).
Their deadlines are the settings' defaults as of this revision, on the clock (not in open
hours): accept within 30 minutes of the press, schedule within 4 hours of accepting. Resolved
and closed `service` incidents stay as they are, the record of how they were answered.
Downgrading drops the work orders and their notices; the incidents stay closed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:40:00
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)

# The defaults of ELDERCARE_WORK_ORDER_ACCEPT_WITHIN_MIN and _SCHEDULE_WITHIN_H at this revision.
ACCEPT_WITHIN = dt.timedelta(minutes=30)
SCHEDULE_WITHIN = dt.timedelta(hours=4)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


CATEGORY = _enum("workordercategory", "service", "maintenance")
STATUS = _enum(
    "workorderstatus", "new", "accepted", "scheduled", "done", "cancelled", "unreachable"
)
PROVIDER_KIND = ("providerkind", "centre", "company", "volunteer")


def upgrade() -> None:
    op.create_table(
        "service_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", _enum(*PROVIDER_KIND), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("centre_code", sa.String(length=8), nullable=True),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_code"], ["centres.code"], name=op.f("fk_service_providers_centre_code_centres")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_providers")),
    )
    op.create_index(op.f("ix_service_providers_centre_code"), "service_providers", ["centre_code"])
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", CATEGORY, nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=20), nullable=True),
        sa.Column("device_event_id", BigId, nullable=True),
        sa.Column("need", sa.String(length=32), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("centre_code", sa.String(length=8), nullable=False),
        sa.Column("provider_kind", _enum(*PROVIDER_KIND), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("appointment_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("accepted_at", UTC, nullable=True),
        sa.Column("accepted_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("due_at", UTC, nullable=True),
        sa.Column("overdue_at", UTC, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by_staff_id"],
            ["staff.id"],
            name=op.f("fk_work_orders_accepted_by_staff_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["centre_code"], ["centres.code"], name=op.f("fk_work_orders_centre_code_centres")
        ),
        sa.ForeignKeyConstraint(
            ["device_event_id"],
            ["device_events.id"],
            name=op.f("fk_work_orders_device_event_id_device_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_work_orders_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elders.id"],
            name=op.f("fk_work_orders_elder_id_elders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["service_providers.id"],
            name=op.f("fk_work_orders_provider_id_service_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("device_event_id", name=op.f("uq_work_orders_device_event_id")),
    )
    for column in ("category", "status", "elder_id", "centre_code", "due_at"):
        op.create_index(op.f(f"ix_work_orders_{column}"), "work_orders", [column])
    op.create_table(
        "work_order_steps",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("device_event_id", BigId, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_event_id"],
            ["device_events.id"],
            name=op.f("fk_work_order_steps_device_event_id_device_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_steps_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_steps")),
        sa.UniqueConstraint("device_event_id", name=op.f("uq_work_order_steps_device_event_id")),
    )
    op.create_index(
        op.f("ix_work_order_steps_work_order_id"), "work_order_steps", ["work_order_id"]
    )
    # Nothing refers to device_notices: rebuilding it on SQLite (batch mode) cascades nowhere.
    with op.batch_alter_table("device_notices") as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("work_order_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_device_notices_work_order_id_work_orders"),
            "work_orders",
            ["work_order_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint(
            op.f("ck_device_notices_about_one_matter"),
            "(incident_id IS NULL) <> (work_order_id IS NULL)",
        )
    _carry_over_open_service_incidents()


incidents = sa.table(
    "incidents",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("status", sa.String()),
    sa.column("elder_id", sa.Integer()),
    sa.column("device_id", sa.String()),
    sa.column("centre_code", sa.String()),
    sa.column("assigned_staff_id", sa.Integer()),
    sa.column("opened_at", UTC),
    sa.column("acknowledged_at", UTC),
    sa.column("ack_due_at", UTC),
    sa.column("onsite_due_at", UTC),
    sa.column("resolved_at", UTC),
    sa.column("outcome", sa.String()),
)
timeline = sa.table(
    "incident_timeline",
    sa.column("incident_id", sa.Integer()),
    sa.column("at", UTC),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("device_event_id", BigId),
    sa.column("detail", sa.JSON()),
)
events = sa.table("device_events", sa.column("id", BigId), sa.column("payload", sa.JSON()))
elders = sa.table("elders", sa.column("id", sa.Integer()), sa.column("community_code", sa.String()))
orders = sa.table(
    "work_orders",
    sa.column("id", sa.Integer()),
    sa.column("category", sa.String()),
    sa.column("status", sa.String()),
    sa.column("elder_id", sa.Integer()),
    sa.column("device_id", sa.String()),
    sa.column("device_event_id", BigId),
    sa.column("need", sa.String()),
    sa.column("request", sa.Text()),
    sa.column("centre_code", sa.String()),
    sa.column("created_at", UTC),
    sa.column("created_by", sa.String()),
    sa.column("accepted_at", UTC),
    sa.column("accepted_by_staff_id", sa.Integer()),
    sa.column("due_at", UTC),
    sa.column("late", sa.Boolean()),
)
steps = sa.table(
    "work_order_steps",
    sa.column("work_order_id", sa.Integer()),
    sa.column("at", UTC),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("detail", sa.JSON()),
)
OPEN = ("new", "assigned", "acknowledged", "en_route", "on_site")
TAKEN = ("acknowledged", "en_route", "on_site")


def _carry_over_open_service_incidents() -> None:
    connection = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    opened_by = (
        sa.select(timeline.c.incident_id, timeline.c.device_event_id)
        .where(timeline.c.action == "opened")
        .subquery()
    )
    found = connection.execute(
        sa.select(
            incidents.c.id,
            incidents.c.status,
            incidents.c.elder_id,
            incidents.c.device_id,
            incidents.c.centre_code,
            incidents.c.assigned_staff_id,
            incidents.c.opened_at,
            incidents.c.acknowledged_at,
            elders.c.community_code,
            opened_by.c.device_event_id,
            events.c.payload,
        )
        .outerjoin(elders, elders.c.id == incidents.c.elder_id)
        .outerjoin(opened_by, opened_by.c.incident_id == incidents.c.id)
        .outerjoin(events, events.c.id == opened_by.c.device_event_id)
        .where(incidents.c.kind == "service", incidents.c.status.in_(OPEN))
        .order_by(incidents.c.id)
    ).all()
    for row in found:
        accepted = row.status in TAKEN
        accepted_at = row.acknowledged_at if accepted else None
        need = (row.payload or {}).get("need")
        order_id = connection.execute(
            sa.insert(orders)
            .values(
                category="service",
                status="accepted" if accepted else "new",
                elder_id=row.elder_id,
                device_id=row.device_id,
                device_event_id=row.device_event_id,
                need=need,
                request="",
                centre_code=row.community_code or row.centre_code,
                created_at=row.opened_at,
                created_by="alarm-engine",
                accepted_at=accepted_at,
                accepted_by_staff_id=row.assigned_staff_id if accepted else None,
                due_at=(accepted_at + SCHEDULE_WITHIN)
                if accepted_at
                else row.opened_at + ACCEPT_WITHIN,
                late=False,
            )
            .returning(orders.c.id)
        ).scalar_one()
        new_steps = [
            {"work_order_id": order_id, "at": row.opened_at, "actor": "alarm-engine",
             "action": "opened", "detail": {"type": "service", "need": need, "incident": row.id}},
        ]  # fmt: skip
        if accepted_at is not None:
            new_steps.append(
                {"work_order_id": order_id, "at": accepted_at,
                 "actor": f"staff:{row.assigned_staff_id}", "action": "accepted", "detail": {}}
            )  # fmt: skip
        connection.execute(sa.insert(steps), new_steps)
        connection.execute(
            sa.update(incidents)
            .where(incidents.c.id == row.id)
            .values(
                status="closed",
                outcome="referred",
                resolved_at=now,
                ack_due_at=None,
                onsite_due_at=None,
            )
        )
        connection.execute(
            sa.insert(timeline).values(
                incident_id=row.id,
                at=now,
                actor="system",
                action="became_work_order",
                device_event_id=None,
                detail={"ref": f"W{order_id}"},
            )
        )


def downgrade() -> None:
    op.execute("DELETE FROM device_notices WHERE incident_id IS NULL")
    with op.batch_alter_table("device_notices") as batch_op:
        batch_op.drop_constraint(op.f("ck_device_notices_about_one_matter"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_device_notices_work_order_id_work_orders"), type_="foreignkey"
        )
        batch_op.drop_column("work_order_id")
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_work_order_steps_work_order_id"), table_name="work_order_steps")
    op.drop_table("work_order_steps")
    for column in ("category", "status", "elder_id", "centre_code", "due_at"):
        op.drop_index(op.f(f"ix_work_orders_{column}"), table_name="work_orders")
    op.drop_table("work_orders")
    op.drop_index(op.f("ix_service_providers_centre_code"), table_name="service_providers")
    op.drop_table("service_providers")
