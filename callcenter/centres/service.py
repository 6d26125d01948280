"""The street centre and the 12 community centres, from the facts the project ships."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

from callcenter.centres.schemas import CentreFacts
from kernel.models import CentreTier

FACTS_FILE = Path(__file__).with_name("communities.json")


def _hours(text: str) -> tuple[dt.time | None, dt.time | None]:
    if text == "24/7":
        return None, None
    opens, closes = text.split("-")
    return dt.time.fromisoformat(opens), dt.time.fromisoformat(closes)


@lru_cache
def centre_facts() -> tuple[CentreFacts, ...]:
    """The street centre first, then the community centres, as shipped in communities.json."""
    data = json.loads(FACTS_FILE.read_text(encoding="utf-8"))
    street = data["street"]
    opens, closes = _hours(street["hours"])
    facts = [
        CentreFacts(
            code=street["code"],
            name=street["name"],
            name_en=street["name_en"],
            centre_name=street["name"],
            tier=CentreTier.STREET,
            lat=street["lat"],
            lon=street["lon"],
            opens_at=opens,
            closes_at=closes,
            operators=street["staff"]["operators"],
            supervisors=street["staff"]["supervisors"],
        )
    ]
    for community in data["communities"]:
        opens, closes = _hours(community["hours"])
        facts.append(
            CentreFacts(
                code=community["code"],
                name=community["name"],
                name_en=community["name_en"],
                centre_name=community["centre"],
                tier=CentreTier.COMMUNITY,
                lat=community["lat"],
                lon=community["lon"],
                opens_at=opens,
                closes_at=closes,
                workers=community["workers"],
            )
        )
    return tuple(facts)


def community_codes_by_name() -> dict[str, str]:
    """Community name as the register writes it (e.g. 禾花社区) -> centre code (PH03)."""
    return {f.name: f.code for f in centre_facts() if f.tier is CentreTier.COMMUNITY}
