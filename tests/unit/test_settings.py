from pathlib import Path

import pytest

from webapp.settings import Settings, SettingsError, settings_table


def test_defaults_are_the_embedded_platform() -> None:
    settings = Settings.from_env({})
    assert settings.is_embedded
    assert settings.effective_database_url.endswith("tenderhall-data/tenderhall.db")
    assert settings.effective_storage_url.startswith("file://")
    assert settings.broker_url is None
    assert settings.port == 8000


def test_values_are_parsed_and_postgres_gets_the_async_driver() -> None:
    settings = Settings.from_env(
        {
            "TENDERHALL_DATABASE_URL": "postgresql://postgres@127.0.0.1/th",
            "TENDERHALL_STORAGE_URL": "s3://127.0.0.1:9000/bids",
            "TENDERHALL_BROKER_URL": "redis://127.0.0.1:6379/0",
            "TENDERHALL_PORT": "9001",
            "TENDERHALL_DATA_DIR": "/srv/th",
            "TENDERHALL_CORS_ORIGINS": "https://a.example, https://b.example",
            "TENDERHALL_LOG_JSON": "false",
        }
    )
    assert settings.effective_database_url == "postgresql+asyncpg://postgres@127.0.0.1/th"
    assert not settings.is_embedded
    assert settings.port == 9001
    assert settings.data_dir == Path("/srv/th")
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.log_json is False


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TENDERHALL_PORT", "eighty", "port"),
        ("TENDERHALL_PORT", "70000", "port"),
        ("TENDERHALL_DATABASE_URL", "mysql://x", "postgresql"),
        ("TENDERHALL_STORAGE_URL", "ftp://x/y", "s3://"),
        ("TENDERHALL_BROKER_URL", "http://x", "redis://"),
        ("TENDERHALL_SECRET_KEY", "short", "32"),
        ("TENDERHALL_LOG_LEVEL", "loud", "DEBUG"),
        ("TENDERHALL_LOG_JSON", "maybe", "true or false"),
        ("TENDERHALL_TICK_SECONDS", "0", "positive"),
    ],
)
def test_malformed_values_name_the_variable_and_what_it_expects(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({variable: value})
    assert info.value.variable == variable
    assert variable in info.value.message_en and expected in info.value.message_en
    assert variable in info.value.message_zh


def test_an_upload_chunk_larger_than_a_request_may_be_is_refused() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"TENDERHALL_UPLOAD_CHUNK_BYTES": str(32 * 1024 * 1024)})
    assert info.value.variable == "TENDERHALL_UPLOAD_CHUNK_BYTES"
    assert "TENDERHALL_MAX_REQUEST_BYTES (16777216)" in info.value.message_en
    both = {"TENDERHALL_UPLOAD_CHUNK_BYTES": "33554432", "TENDERHALL_MAX_REQUEST_BYTES": "33554432"}
    assert Settings.from_env(both).upload_chunk_bytes == 32 * 1024 * 1024


def test_unknown_variable_is_refused_by_name() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"TENDERHALL_DATABSE_URL": "sqlite:///x.db"})
    assert info.value.variable == "TENDERHALL_DATABSE_URL"


def test_secrets_are_masked_when_described() -> None:
    settings = Settings(storage_secret_key="s3cr3t", secret_key="k" * 32)
    shown = dict(settings.describe())
    assert shown["TENDERHALL_STORAGE_SECRET_KEY"] == "***"
    assert shown["TENDERHALL_SECRET_KEY"] == "***"


def test_readme_configuration_table_is_the_generated_one() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme
