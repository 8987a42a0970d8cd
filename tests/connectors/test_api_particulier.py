"""The API Particulier connector against the simulated v3 API, over loopback."""

import asyncio
import datetime

import httpx
import pytest

from citizen_graph.access import Access
from citizen_graph.connectors import Connectors, open_connectors, point_at_sandbox
from citizen_graph.errors import NotFound, UpstreamUnavailable
from citizen_graph.records import PivotIdentity
from citizen_graph.serving import ThreadedServer
from tests.conftest import gateway_settings

pytestmark = pytest.mark.anyio

ALICE = PivotIdentity(
    birth_name="FICTIF",
    usage_name="LAMBERT",
    given_names=("ALICE", "MARIE"),
    birth_date=datetime.date(1984, 3, 14),
    sex="F",
    birth_place_code="35238",
)
CAMILLE = PivotIdentity(
    "TESTEUR", ("CAMILLE",), datetime.date(2004, 6, 1), "F", "99100", "69123"
)
RECIPIENT = "21350238800019"


async def test_family_quotient_is_translated(
    connectors: Connectors, access: Access
) -> None:
    quotient = await connectors.api_particulier.family_quotient(ALICE, access)
    today = datetime.date.today()
    assert quotient.provider == "CNAF"
    assert (quotient.year, quotient.month) == (today.year, today.month)
    assert quotient.value is not None
    assert quotient.value > 0
    assert {c.given_names for c in quotient.children} == {("LEA",), ("HUGO",)}


async def test_family_quotient_of_a_past_month(
    connectors: Connectors, access: Access
) -> None:
    quotient = await connectors.api_particulier.family_quotient(ALICE, access, 2026, 1)
    assert (quotient.year, quotient.month) == (2026, 1)


async def test_student_status_is_translated(
    connectors: Connectors, access: Access
) -> None:
    status = await connectors.api_particulier.student_status(CAMILLE, access)
    assert status.enrolled_on(datetime.date.today())
    assert status.admissions[0].institution_name == "Université Fictive de Lyon"


async def test_unknown_person_is_not_found(
    connectors: Connectors, access: Access
) -> None:
    with pytest.raises(NotFound):
        await connectors.api_particulier.student_status(ALICE, access)


async def test_provider_failure_is_upstream_unavailable(
    connectors: Connectors, access: Access
) -> None:
    failing = PivotIdentity(
        "FICTIF", ("ALICE",), ALICE.birth_date, "F", "99100", "00502"
    )
    with pytest.raises(UpstreamUnavailable):
        await connectors.api_particulier.family_quotient(failing, access)


async def test_the_client_never_exceeds_twenty_calls_per_second(
    connectors: Connectors, access: Access, sandbox: httpx.Client
) -> None:
    people = sandbox.get(
        "/_sandbox/citizens", params={"limit": 45, "known_by": "cnaf"}
    ).json()["citizens"]
    identities = [
        PivotIdentity(
            c["identity"]["birthName"],
            tuple(c["identity"]["givenNames"]),
            datetime.date.fromisoformat(c["identity"]["birthDate"]),
            c["identity"]["sex"],
            c["identity"]["birthCountryCode"],
            c["identity"]["birthPlaceCode"],
            c["identity"]["usageName"],
        )
        for c in people
    ]
    results = await asyncio.gather(
        *(connectors.api_particulier.family_quotient(i, access) for i in identities),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, UpstreamUnavailable)]
    statuses = sandbox.get("/_sandbox/stats").json()["upstreams"]["api_particulier"][
        "statuses"
    ]
    assert "429" not in statuses
    assert statuses["200"] == 45


async def test_an_identical_request_in_flight_elsewhere_is_asked_again_once_it_is_done(
    connectors: Connectors,
    access: Access,
    sandbox: httpx.Client,
    sandbox_server: ThreadedServer,
) -> None:
    """Two replicas without a shared cache (Redis lost) ask for one person with one
    token: the second gets 409 00015, asks again after about one call's time, and reads
    the quotient rather than an error."""
    sandbox.put("/_sandbox/faults/api_particulier", json={"latency_ms": 300})
    url = sandbox_server.url
    async with open_connectors(point_at_sandbox(gateway_settings(url), url)) as other:
        first = asyncio.create_task(
            connectors.api_particulier.family_quotient(ALICE, access)
        )
        await asyncio.sleep(0.05)
        second = await other.api_particulier.family_quotient(ALICE, access)
        assert (await first).value == second.value
    stats = sandbox.get("/_sandbox/stats").json()["upstreams"]["api_particulier"]
    assert stats["statuses"] == {"200": 2, "409": 1}
