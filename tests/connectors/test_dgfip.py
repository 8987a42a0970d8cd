"""The DGFiP connector against the simulated API Impôt particulier, over loopback."""

import datetime
import uuid
from collections.abc import Callable

import httpx
import pytest

from citizen_graph.access import Access
from citizen_graph.connectors import Connectors, dgfip
from citizen_graph.connectors._client import UpstreamClient
from citizen_graph.connectors.dgfip import DgfipConnector
from citizen_graph.errors import NotFound
from citizen_graph.sandbox.dgfip import TOKEN_LIFETIME_S
from tests.conftest import ALICE, PAUL, upstream_calls
from tests.connectors.conftest import SCRIPTED, Answer, FakeClock, ScriptedUpstream

pytestmark = pytest.mark.anyio


def token_calls(sandbox: httpx.Client) -> int:
    routes = sandbox.get("/_sandbox/stats").json()["upstreams"]["dgfip"]["routes"]
    return sum(n for route, n in routes.items() if route.endswith("/token"))


async def test_tax_history_is_translated_into_the_projects_records(
    connectors: Connectors,
    access: Access,
) -> None:
    history = await connectors.dgfip.tax_history(ALICE, access)
    latest = history.latest
    assert [s.income_year for s in history.situations] == [
        latest.income_year,
        latest.income_year - 1,
    ]
    assert latest.family_situation == "MARRIED"
    assert latest.shares == 3.0
    assert latest.dependents == 2
    alice = latest.declarant(ALICE)
    assert alice is not None
    assert alice.given_names == ("ALICE", "MARIE")
    assert alice.birth_date == datetime.date(1984, 3, 14)
    assert latest.address is not None
    assert latest.address.label.endswith("12 R DES EXEMPLES 35000 RENNES")


async def test_the_token_is_fetched_once_and_reused(
    connectors: Connectors, access: Access, sandbox: httpx.Client
) -> None:
    for spi in (ALICE, PAUL, ALICE):
        await connectors.dgfip.tax_history(spi, access)
    assert token_calls(sandbox) == 1
    assert upstream_calls(sandbox, "dgfip") == 3


async def test_a_revoked_token_is_renewed_on_401(
    connectors: Connectors, access: Access, sandbox: httpx.Client
) -> None:
    await connectors.dgfip.tax_history(ALICE, access)
    sandbox.post("/_sandbox/dgfip/revoke-tokens").raise_for_status()
    history = await connectors.dgfip.tax_history(PAUL, access)
    assert history.latest.declarant(PAUL) is not None
    assert token_calls(sandbox) == 2


async def test_a_past_income_year_uses_the_yearly_route(
    connectors: Connectors, access: Access, sandbox: httpx.Client
) -> None:
    latest = (await connectors.dgfip.tax_history(ALICE, access)).latest.income_year
    situation = await connectors.dgfip.tax_situation(ALICE, latest - 2, access)
    assert situation.income_year == latest - 2
    assert upstream_calls(sandbox, "dgfip", "annrev") == 1


async def test_unknown_fiscal_number_and_year_are_not_found(
    connectors: Connectors,
    access: Access,
) -> None:
    with pytest.raises(NotFound):
        await connectors.dgfip.tax_history("3999999999999", access)
    with pytest.raises(NotFound, match="income year"):
        await connectors.dgfip.tax_situation(ALICE, 2001, access)


async def test_each_dgfip_call_carries_a_fresh_correlation_id(
    upstream: ScriptedUpstream, open_client: Callable[..., UpstreamClient]
) -> None:
    upstream.otherwise = Answer(410, body=b'{"codeapp": "4102"}')
    dgfip = DgfipConnector(open_client("dgfip"), "test")
    for spi in (ALICE, ALICE, PAUL):
        with pytest.raises(NotFound):
            await dgfip.tax_history(spi, SCRIPTED)
    with pytest.raises(NotFound):
        await dgfip.tax_situation(ALICE, 2024, SCRIPTED)
    ids = [r.headers["x-correlation-id"] for r in upstream.received]
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert all(uuid.UUID(i).version == 4 for i in ids)


async def test_the_token_is_renewed_a_minute_before_it_expires(
    connectors: Connectors,
    access: Access,
    sandbox: httpx.Client,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The gateway's clock only: the sandbox still accepts the first token throughout.
    monkeypatch.setattr(dgfip, "time", clock)
    await connectors.dgfip.tax_history(ALICE, access)
    assert token_calls(sandbox) == 1
    clock.advance(TOKEN_LIFETIME_S - 61)
    await connectors.dgfip.tax_history(PAUL, access)
    assert token_calls(sandbox) == 1
    clock.advance(2)  # 59 s before it expires
    await connectors.dgfip.tax_history(ALICE, access)
    assert token_calls(sandbox) == 2
    assert upstream_calls(sandbox, "dgfip") == 3
