"""The DC-09 receiver's parts for one gateway process: accounts, receiver, ports, timed work."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.dc09.service import AccountBook, AlarmReceiver, Clock
from gateway.dc09.tasks import refresh_accounts, run_supervision
from gateway.dc09.transports import ReceiverPorts
from gateway.ingest.service import Ingest
from gateway.ingest.tasks import BatchWriter
from kernel.models import utcnow
from kernel.supervisor import Supervisor

log = logging.getLogger(__name__)


class AlarmReceiverRuntime:
    """Starts the receiver on a gateway's ingest path and loops; stops it before the gateway."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ingest: Ingest,
        writer: BatchWriter,
        supervisor: Supervisor,
        *,
        host: str,
        port: int,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._supervisor = supervisor
        self.accounts = AccountBook(sessions)
        self.receiver = AlarmReceiver(self.accounts, ingest, writer, sessions, clock=clock)
        self.ports = ReceiverPorts(self.receiver, host, port)

    async def start(self) -> None:
        """Load the accounts, listen, and start supervision under the gateway's supervisor."""
        try:
            log.info("DC-09 receiver knows %d accounts", await self.accounts.load())
        except (SQLAlchemyError, OSError):
            # Come up anyway: each account is looked up as its first frame comes.
            log.exception("DC-09 accounts not loaded at start; looked up frame by frame")
        await self.ports.start()
        stop = self._supervisor.stop_signal
        self._supervisor.start("dc09-supervision", lambda: run_supervision(self._sessions, stop))
        self._supervisor.start("dc09-accounts", lambda: refresh_accounts(self.accounts, stop))

    async def stop(self) -> None:
        """Stop listening and answer what is in hand (the gateway then writes what is queued)."""
        await self.ports.stop()
