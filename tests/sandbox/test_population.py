"""The generated population: deterministic, fictitious, with the documented proportions."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from citizen_graph.sandbox import LATENCY_PROFILES, create_sandbox_app
from citizen_graph.sandbox.names import SURNAMES
from citizen_graph.sandbox.population import Population


@pytest.fixture(scope="module")
def population(sandbox_app: Starlette) -> Population:
    sandbox_population: Population = sandbox_app.state.sandbox.population
    return sandbox_population


def test_population_is_deterministic() -> None:
    first, second = Population.generate(7, 300), Population.generate(7, 300)
    assert first.households == second.households
    assert first.studies == second.studies
    assert Population.generate(8, 300).households != first.households


def test_population_has_the_asked_number_of_households(population: Population) -> None:
    assert len(population.households) == 10_000
    assert len(population.residents) > 14_000


def test_fiscal_numbers_are_unique_and_fictitious(population: Population) -> None:
    numbers = [r.person.fiscal_number or "" for r in population.residents]
    assert len(set(numbers)) == len(numbers)
    generated = numbers[5:]
    assert all(len(n) == 13 and n.isdigit() and n.startswith("3") for n in generated)
    assert not any(n.startswith("1111111111") for n in generated)
    assert not set(generated) & {"3000000000011", "3000000000012", "3000000000021"}


def test_every_identity_matches_one_resident(population: Population) -> None:
    keys = [
        (
            r.person.birth_name,
            r.person.first_given_name,
            r.person.birth_date,
            r.person.sex,
        )
        for r in population.residents
    ]
    assert len(set(keys)) == len(keys)


def test_surnames_are_obviously_fictitious(population: Population) -> None:
    assert len(SURNAMES) >= 200
    generated = {r.person.birth_name for r in population.residents[5:]}
    assert generated <= set(SURNAMES)


def test_proportions_are_as_documented(population: Population) -> None:
    households = population.households
    share = len(households) / 100
    cnaf = sum(h.family_file == "cnaf" for h in households) / share
    msa = sum(h.family_file == "msa" for h in households) / share
    untaxed = sum(h.tax is None for h in households) / share
    students = len(population.studies) / len(population.residents) * 100
    couples = sum(h.couple for h in households) / share
    assert 35 <= cnaf <= 45
    assert 2 <= msa <= 8
    assert 35 <= untaxed <= 50
    assert 6 <= students <= 10
    assert 35 <= couples <= 55
    assert {h.family_status for h in households} == set("MOCDV")


def test_children_are_minors_in_family_files(population: Population) -> None:
    children = [c for h in population.households for c in h.children]
    assert len(children) > 5_000
    assert all(c.fiscal_number is None for c in children)
    assert all(2026 - c.birth_date.year <= 18 for c in children)


def test_some_people_are_born_abroad_or_use_another_name(
    population: Population,
) -> None:
    people = [r.person for r in population.residents]
    abroad = [p for p in people if p.birth_place.abroad]
    assert abroad
    assert all(p.birth_place.commune_code is None for p in abroad)
    assert any(p.usage_name for p in people)


def test_unknown_latency_profile_is_refused() -> None:
    assert LATENCY_PROFILES == ("none", "realistic")
    with pytest.raises(ValueError, match="latency"):
        create_sandbox_app(latency="slow", households=10)
