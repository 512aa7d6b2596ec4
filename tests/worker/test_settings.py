from __future__ import annotations

from pathlib import Path

import pytest

from worker.settings import SETTINGS_DOC, Settings, SettingsError, settings_table


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.app_id == settings.topic_prefix == "watchkeeper"
    assert settings.partitions == 8 and settings.replication_factor == 1


def test_one_variable_points_everything_at_another_cluster() -> None:
    assert (
        Settings.from_env({"WATCHKEEPER_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092"}).bootstrap_servers
        == "kafka-1:9092,kafka-2:9092"
    )


def test_the_app_id_follows_the_topic_prefix_unless_set() -> None:
    assert Settings.from_env({"WATCHKEEPER_TOPIC_PREFIX": "north"}).app_id == "north"
    assert Settings.from_env({"WATCHKEEPER_TOPIC_PREFIX": "north", "WATCHKEEPER_APP_ID": "wk"}).app_id == "wk"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WATCHKEEPER_PARTITIONS", "0"),
        ("WATCHKEEPER_TICK_SECONDS", "soon"),
        ("WATCHKEEPER_WEBHOOK_URL", "ftp://x"),
        ("WATCHKEEPER_STORE", "redis://"),
        ("WATCHKEEPER_TOPIC_PREFIX", "a b"),
        ("WATCHKEEPER_BOOTSTRAP_SERVERS", "kafka"),
        ("WATCHKEEPER_CONSOLE", "maybe"),
        ("WATCHKEEPER_CONSOLE_USERS", "insp-1:inspector:sha256$not-a-hash"),
        ("WATCHKEEPER_CONSOLE_USERS", "insp-1:captain:sha256$" + "0" * 32 + "$" + "0" * 64),
        ("WATCHKEEPER_RECORD_RETENTION_DAYS", "30"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, _, _ in SETTINGS_DOC:
        assert name in readme, f"{name} is not in the README"
    assert settings_table() in readme, "the README's settings table is not the settings' own: paste settings_table()"


def test_each_documented_default_is_the_default_a_worker_runs_with() -> None:
    defaults = Settings.from_env({})
    shown = {name: default for name, default, _ in SETTINGS_DOC}
    assert shown["WATCHKEEPER_PARTITIONS"] == str(defaults.partitions) == "8"
    assert shown["WATCHKEEPER_TICK_SECONDS"] == str(defaults.tick_seconds)
    assert shown["WATCHKEEPER_STORE"] == defaults.store
    assert float(shown["WATCHKEEPER_MAX_FUTURE_SECONDS"]) == defaults.max_future_seconds
    assert shown["WATCHKEEPER_DATA_DIR"] == "/tmp/watchkeeper/<app id>" and defaults.data_dir == Path(
        "/tmp/watchkeeper/watchkeeper"
    )


def test_sasl_and_tls_to_the_brokers_come_from_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    env = {
        "WATCHKEEPER_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "WATCHKEEPER_KAFKA_SASL_USERNAME": "watchkeeper",
        "WATCHKEEPER_KAFKA_SASL_PASSWORD": "s3cret",
        "WATCHKEEPER_KAFKA_CA_FILE": str(ca),
    }
    options = Settings.from_env(env).kafka_python_options()
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "watchkeeper",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": str(ca),
    }
    assert Settings.from_env({}).kafka_python_options() == {"security_protocol": "PLAINTEXT"}
    assert Settings.from_env({}).ssl_context() is None


def test_switches_take_on_and_off_in_their_usual_spellings() -> None:
    assert Settings.from_env({"WATCHKEEPER_CONSOLE": "OFF"}).console is False
    assert Settings.from_env({"WATCHKEEPER_CONSOLE": "yes"}).console is True


def test_settings_a_notification_file_replaces_are_refused_beside_one_not_ignored() -> None:
    from alerts.config import ConfigError
    from worker.settings import notify_config_of

    example = str(Path(__file__).resolve().parents[2] / "deploy" / "notify" / "example.yaml")
    settings = Settings.from_env({"WATCHKEEPER_NOTIFY": example, "WATCHKEEPER_WEBHOOK_URL": "https://hook.example/x"})
    with pytest.raises(ConfigError, match="WATCHKEEPER_WEBHOOK_URL: not used with WATCHKEEPER_NOTIFY"):
        notify_config_of(settings, environ={})
