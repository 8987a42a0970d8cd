"""The HTTP surface: health, readiness, GraphiQL, request ids, viewer (metrics:
test_metrics.py)."""

from tests.conftest import GatewayClient


def test_healthz_answers_ok(gateway: GatewayClient) -> None:
    response = gateway.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_upstreams_circuit(gateway: GatewayClient) -> None:
    body = gateway.http.get("/readyz").json()
    assert body["upstreams"] == {
        "dgfip": {"circuit": "closed", "clients_open": 0},
        "api_particulier": {"circuit": "closed", "clients_open": 0},
        "ban": {"circuit": "closed", "clients_open": 0},
    }


def test_browsers_get_graphiql(gateway: GatewayClient) -> None:
    response = gateway.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_queries_over_get_are_refused(gateway: GatewayClient) -> None:
    response = gateway.http.get(
        "/graphql",
        params={"query": "{ viewer { role } }"},
        headers={
            "Authorization": "Bearer demo-social-services",
            "Accept": "application/json",
        },
    )
    assert response.status_code >= 400
    assert "viewer" not in response.text or "data" not in response.json()


def test_request_id_is_echoed_or_generated(gateway: GatewayClient) -> None:
    given = gateway.post("{ viewer { role } }", headers={"X-Request-Id": "req-42"})
    assert given.headers["x-request-id"] == "req-42"
    generated = gateway.post("{ viewer { role } }")
    assert len(generated.headers["x-request-id"]) == 36
    hostile = gateway.post(
        "{ viewer { role } }", headers={"X-Request-Id": "a\tb" * 100}
    )
    assert hostile.headers["x-request-id"] != "a\tb" * 100


def test_viewer_reports_the_demo_client_and_declared_role(
    gateway: GatewayClient,
) -> None:
    result = gateway.query(
        "{ viewer { clientId recipient role allowedRoles purpose readableFields } }",
        key="demo-all-roles",
        headers={"X-Role": "student_aid", "X-Purpose": "Bourse 2026"},
    )
    viewer = result["data"]["viewer"]
    assert viewer["clientId"] == "demo-client-all-roles"
    assert viewer["recipient"] == "26350238800011"
    assert viewer["role"] == "student_aid"
    assert viewer["allowedRoles"][0] == "social_services"
    assert viewer["purpose"] == "Bourse 2026"
    assert "TaxNotice.referenceTaxIncome" in viewer["readableFields"]


def test_a_path_that_is_no_route_answers_json_and_never_redirects(
    gateway: GatewayClient,
) -> None:
    for path in ("/graphql/", "/nothing-here"):
        response = gateway.http.post(
            path, json={}, headers={"Host": "evil.example"}, follow_redirects=False
        )
        assert response.status_code == 404, path
        assert "location" not in response.headers
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "/graphql" in error["message"]
        assert response.headers["x-request-id"]
