"""The directory's queries give the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.elders.repository import ElderFilter, search_elders
from callcenter.elders.service import parse_search
from callcenter.register import columns
from eldercare.jobs import import_register_file
from kernel.models import LivingSituation
from tests.callcenter.elders.conftest import elder_rows
from tests.factories import AS_OF, create_register_csv


async def test_every_search_key_and_filter_on_both_databases(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rows = elder_rows()
    await import_register_file(
        sessions,
        create_register_csv(tmp_path / "r.csv", [rows.xiuying, rows.jianhua, rows.jianguo]),
        as_of=AS_OF,
        actor="test",
    )

    async def found(**wanted: Any) -> list[str]:
        async with sessions() as session:
            total, elders = await search_elders(session, ElderFilter(**wanted), limit=10, offset=0)
        assert total == len(elders)
        return [elder.name for elder in elders]

    assert await found(text=parse_search("秀")) == ["王秀英"]
    assert await found(text=parse_search("100%")) == []  # LIKE wildcards are taken literally
    assert await found(text=parse_search("13600008888")) == ["李建国"]  # a contact's
    assert await found(text=parse_search("13800004321")) == ["王秀英"]  # her own
    assert await found(text=parse_search(rows.xiuying[columns.NATIONAL_ID].lower())) == ["王秀英"]
    assert sorted(await found(condition="高血压")) == ["王建华", "王秀英"]
    assert await found(condition="高血") == []  # a whole condition, not a part of one
    assert await found(community_code="PH03", living=LivingSituation.ALONE) == ["王秀英"]
