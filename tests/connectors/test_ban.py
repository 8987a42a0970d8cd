"""The BAN connector against the simulated geocoder, over loopback."""

import httpx
import pytest

from citizen_graph.connectors import Connectors
from tests.conftest import upstream_calls

pytestmark = pytest.mark.anyio

ALICE = "12 R DES EXEMPLES 35000 RENNES"
NOE = "99 IMP DES NULLE PART 23000 GUERET"


async def test_one_address_uses_search(
    connectors: Connectors, sandbox: httpx.Client
) -> None:
    [found] = await connectors.ban.geocode([ALICE])
    assert found is not None
    assert found.label == "12 Rue des Exemples 35000 Rennes"
    assert found.city_code == "35238"
    assert upstream_calls(sandbox, "ban", "/ban/search/") == 1


async def test_many_addresses_are_geocoded_in_one_csv_call(
    connectors: Connectors, sandbox: httpx.Client
) -> None:
    results = await connectors.ban.geocode(
        [ALICE, NOE, "3 AV DE L IMAGINAIRE 69007 LYON"]
    )
    assert results[0] is not None
    assert results[0].house_number == "12"
    assert results[1] is None  # the BAN does not know NOE's street
    assert results[2] is not None
    assert results[2].city_code == "69387"
    assert upstream_calls(sandbox, "ban", "csv") == 1
    assert upstream_calls(sandbox, "ban") == 1
