from pathlib import Path

import pytest

from citizen_graph.settings import (
    SettingsError,
    load_settings,
    settings_from_environment,
)


def test_defaults_need_no_file() -> None:
    settings = load_settings(None, {})
    assert settings.server.port == 8000
    assert settings.api_particulier.rate_limit_per_s == 20


def test_file_values_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[dgfip]\nread_timeout_s = 2\n[audit]\nsecret = "s3cret"\n')
    settings = load_settings(path, {})
    assert settings.dgfip.read_timeout_s == 2.0
    assert str(settings.audit.secret) == "s3cret"
    assert "s3cret" not in repr(settings)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[api_particulier]\nrate_limit_per_s = 20\n")
    env = {"CITIZEN_GRAPH_API_PARTICULIER_RATE_LIMIT_PER_S": "10"}
    assert load_settings(path, env).api_particulier.rate_limit_per_s == 10


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[dgfip]\nread_timeout = 2\n")
    with pytest.raises(SettingsError, match=r"dgfip\.read_timeout"):
        load_settings(path, {})


def test_unknown_section_in_environment_is_an_error() -> None:
    with pytest.raises(SettingsError, match="CITIZEN_GRAPH_NOPE_X"):
        load_settings(None, {"CITIZEN_GRAPH_NOPE_X": "1"})


def test_wrong_type_is_an_error() -> None:
    with pytest.raises(SettingsError, match=r"server\.port must be a int"):
        load_settings(None, {"CITIZEN_GRAPH_SERVER_PORT": "eighty"})


def test_no_config_means_sandbox_mode() -> None:
    assert settings_from_environment({}).sandbox.enabled is True


def test_a_config_file_turns_sandbox_mode_off(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("")
    env = {"CITIZEN_GRAPH_CONFIG": str(path)}
    assert settings_from_environment(env).sandbox.enabled is False


def test_configuration_errors_share_one_branch_of_the_error_tree() -> None:
    from citizen_graph.auth.credentials import ClientsError
    from citizen_graph.auth.policy import PolicyError
    from citizen_graph.errors import CitizenGraphError, ConfigurationError

    for error in (SettingsError, PolicyError, ClientsError):
        assert issubclass(error, ConfigurationError)
        assert not issubclass(error, CitizenGraphError)  # never answered to a caller


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "null",
        "https://Portail.example.fr",
        "https://portail.example.fr/",
        "portail.example.fr",
        "https://portail.example.fr/app",
        "ftp://portail.example.fr",
    ],
)
def test_a_cors_origin_no_browser_sends_is_an_error_naming_it(entry: str) -> None:
    env = {"CITIZEN_GRAPH_SERVER_CORS_ORIGINS": f"https://ok.example, {entry}"}
    with pytest.raises(SettingsError, match=r"server\.cors_origins"):
        load_settings(None, env)


def test_cors_origins_are_exact_origins_read_from_a_list() -> None:
    env = {
        "CITIZEN_GRAPH_SERVER_CORS_ORIGINS": (
            "https://portail.example.fr, http://127.0.0.1:5173,http://[::1]:3000"
        )
    }
    assert load_settings(None, env).server.origins == (
        "https://portail.example.fr",
        "http://127.0.0.1:5173",
        "http://[::1]:3000",
    )


def test_no_file_or_variable_can_make_a_configured_gateway_take_the_demo_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[sandbox]\nenabled = true\ndemo_keys = true\n")
    with pytest.raises(SettingsError, match=r"sandbox\.demo_keys"):
        load_settings(path, {})
    with pytest.raises(SettingsError, match=r"sandbox\.demo_keys"):
        load_settings(None, {"CITIZEN_GRAPH_SANDBOX_DEMO_KEYS": "true"})
    assert settings_from_environment({}).sandbox.demo_keys  # `serve` alone: the demo
