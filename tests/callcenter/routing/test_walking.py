"""One walk: the ETA the terminal (and the family) is told and coverage's reach are the same
figure, 2 minutes to set off and 4 km/h over the streets (1.3 times the straight line)."""

from __future__ import annotations

import math

import pytest

from callcenter.centres.service import centre_facts
from callcenter.coverage.service import walking_eta_min as coverage_walk
from callcenter.incidents.notices import walking_eta_min as terminal_eta
from callcenter.routing.service import distance_km
from kernel.models import Centre, Elder

HEHUA = next(f for f in centre_facts() if f.name == "禾花社区")
KM_OF_LATITUDE = 1 / 111.195  # degrees north for one kilometre (the haversine's earth)


def home(km_north: float) -> Elder:
    return Elder(lat=HEHUA.lat + km_north * KM_OF_LATITUDE, lon=HEHUA.lon)


CENTRE = Centre(code="PH03", lat=HEHUA.lat, lon=HEHUA.lon)


@pytest.mark.parametrize("km", [0.0, 0.12, 0.3, 0.66, 0.67, 1.0, 2.4])
def test_the_terminals_eta_is_coverages_walk_rounded_up_to_a_minute(km: float) -> None:
    elder = home(km)
    walk = coverage_walk(distance_km(CENTRE.lat, CENTRE.lon, elder.lat, elder.lon))
    assert terminal_eta(CENTRE, elder) == math.ceil(walk)
    # So the terminal promises within the on-site target exactly the homes coverage counts in.
    assert (terminal_eta(CENTRE, elder) <= 15) == (walk <= 15)


def test_a_home_a_kilometre_away_is_promised_22_minutes_the_streets_not_the_straight_line() -> None:
    # 1.3 km walked at 4 km/h is 19.5 minutes, and 2 to set off; the straight line said 17.
    assert terminal_eta(CENTRE, home(1.0)) == 22
    assert terminal_eta(CENTRE, home(0.0)) == 2
