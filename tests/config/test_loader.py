"""Loading: default file, TOML then environment precedence, and one clear line for every bad input."""

from pathlib import Path

import msgspec
import pytest

from possync.config import ConfigError, IbSettings, Settings, load_settings

IB_KEYS = ", ".join(IbSettings.__struct_fields__)


@pytest.fixture
def toml_file(tmp_path: Path):
    """Write the given TOML text to a file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "possync.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def config_error(path: Path | str | None = None, environ: dict[str, str] | None = None) -> str:
    """The message of the ConfigError that loading raises; fails unless it is a single line."""
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    message = str(caught.value)
    assert message.startswith("config error: ")
    assert "\n" not in message
    return message


def test_packaged_default_file_equals_the_built_in_defaults():
    assert load_settings(environ={}) == Settings()


def test_environ_defaults_to_the_process_environment(monkeypatch):
    monkeypatch.setenv("POSSYNC_IB_PORT", "4001")
    assert load_settings().ib.port == 4001


def test_file_overrides_defaults_and_environment_overrides_file(toml_file):
    path = toml_file('[ib]\nport = 7497\nhost = "gw"\n[slots]\nbudget = 40\n')
    settings = load_settings(path, {"POSSYNC_IB_PORT": "4001"})
    assert (settings.ib.port, settings.ib.host, settings.slots.budget) == (4001, "gw", 40)
    assert settings.poller == Settings().poller


def test_a_partial_file_keeps_defaults_for_missing_keys(toml_file):
    assert load_settings(str(toml_file("[log]\nlevel = 'debug'\n")), {}) == Settings(
        log=msgspec.structs.replace(Settings().log, level="DEBUG")
    )


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("POSSYNC_IB_CLIENT_ID", "3", ("ib", "client_id", 3)),
        ("POSSYNC_POLLER_INTERVAL_S", "2.5", ("poller", "interval_s", 2.5)),
        ("POSSYNC_LAKE_ROOT", "/data/lake", ("lake", "root", "/data/lake")),
        ("POSSYNC_LOG_JSON", "true", ("log", "json", True)),
        ("POSSYNC_LOG_JSON", "YES", ("log", "json", True)),
        ("POSSYNC_LOG_JSON", "1", ("log", "json", True)),
        ("POSSYNC_IB_READONLY", "no", ("ib", "readonly", False)),
        ("POSSYNC_IB_READONLY", "False", ("ib", "readonly", False)),
        ("POSSYNC_IB_READONLY", "0", ("ib", "readonly", False)),
        ("POSSYNC_HTTP_PORT", "0", ("http", "port", 0)),
    ],
)
def test_environment_values_are_converted_to_the_field_type(variable, text, expected):
    section, key, value = expected
    loaded = getattr(getattr(load_settings(environ={variable: text}), section), key)
    assert (loaded, type(loaded)) == (value, type(value))


def test_every_key_can_be_set_from_the_environment():
    defaults = msgspec.to_builtins(Settings())
    environ = {
        f"POSSYNC_{section}_{key}".upper(): str(value)
        for section, table in defaults.items()
        for key, value in table.items()
    }
    assert load_settings(environ=environ) == Settings()


def test_other_possync_variables_are_ignored():
    environ = {"POSSYNC_HOME": "/opt", "POSSYNC_FOO_BAR": "1", "IB_PORT": "1"}
    assert load_settings(environ=environ) == Settings()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[foo]\nx = 1\n", ["unknown section 'foo' in ", "(known sections: ib, slots, poller, lake, http"]),
        ("[ib]\nprot = 1\n", ["unknown key 'ib.prot' in ", f"(known keys: {IB_KEYS})"]),
        ("[ib.extra]\nx = 1\n", ["unknown key 'ib.extra'"]),
        ('[ib]\nport = "4001"\n', ["ib.port = '4001' (from ", "must be an integer between 1 and 65535"]),
        ("[ib]\nreadonly = 1\n", ["ib.readonly = 1 (from ", "must be true or false"]),
        ("[slots]\nbudget = true\n", ["slots.budget = True (from ", "must be an integer >= 1"]),
        ("[lake]\nroot = 5\n", ["lake.root = 5 (from ", "must be a non-empty string"]),
        ("ib = 5\n", ["ib = 5 (from ", f"must be a table with keys {IB_KEYS}"]),
        ("[ib]\nport = 0\n", ["ib.port = 0 (from ", "must be an integer between 1 and 65535"]),
        ("[ib]\nport = 70000\n", ["ib.port = 70000 (from ", "must be an integer between 1 and 65535"]),
        ("[http]\nport = 65536\n", ["http.port = 65536 (from ", "must be an integer between 0 and 65535"]),
        ("[slots]\nbudget = 0\n", ["slots.budget = 0 (from ", "must be an integer >= 1"]),
        ("[poller]\ninterval_s = -1\n", ["poller.interval_s = -1 (from ", "must be a number > 0"]),
        ("[lake]\nflush_interval_s = -0.5\n", ["lake.flush_interval_s = -0.5 (from ", "> 0"]),
        ("[ib]\nconnect_timeout_s = 0\n", ["ib.connect_timeout_s = 0 (from ", "> 0"]),
        ("[supervision]\nbackoff_min_s = -1\n", ["supervision.backoff_min_s = -1 (from ", ">= 0"]),
        ('[ib]\nhost = ""\n', ["ib.host = '' (from ", "must be a non-empty string"]),
        ('[log]\nlevel = "loud"\n', ["log.level = 'loud' (from ", "must be one of TRACE, DEBUG, INFO"]),
        (
            "[supervision]\nbackoff_min_s = 60\n",
            ["supervision.backoff_min_s = 60.0 (from ", "must be <= backoff_max_s (30.0)"],
        ),
    ],
)
def test_bad_file_content_names_the_key_value_file_and_what_is_allowed(toml_file, text, fragments):
    path = toml_file(text)
    message = config_error(path)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_unknown_key_message_is_exactly_one_readable_line(toml_file):
    path = toml_file("[ib]\nprot = 4001\n")
    assert config_error(path) == f"config error: unknown key 'ib.prot' in {path} (known keys: {IB_KEYS})"


def test_cross_field_error_on_an_unset_key_says_it_is_the_default(toml_file):
    message = config_error(toml_file("[supervision]\nbackoff_max_s = 0.1\n"))
    assert message.endswith(
        "supervision.backoff_min_s = 0.5 (from built-in default): must be <= backoff_max_s (0.1)"
    )


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"POSSYNC_IB_PORT": "70000"},
            "config error: ib.port = 70000 (from POSSYNC_IB_PORT): must be an integer between 1 and 65535",
        ),
        (
            {"POSSYNC_IB_PORT": "abc"},
            "config error: ib.port = 'abc' (from POSSYNC_IB_PORT): must be an integer between 1 and 65535",
        ),
        (
            {"POSSYNC_POLLER_INTERVAL_S": "soon"},
            "config error: poller.interval_s = 'soon' (from POSSYNC_POLLER_INTERVAL_S): must be a number > 0",
        ),
        (
            {"POSSYNC_LOG_JSON": "maybe"},
            "config error: log.json = 'maybe' (from POSSYNC_LOG_JSON): must be true or false",
        ),
        (
            {"POSSYNC_SUPERVISION_BACKOFF_MIN_S": "99"},
            "config error: supervision.backoff_min_s = 99.0 (from POSSYNC_SUPERVISION_BACKOFF_MIN_S): "
            "must be <= backoff_max_s (30.0)",
        ),
        (
            {"POSSYNC_IB_PROT": "4001"},
            f"config error: unknown key 'ib.prot' from POSSYNC_IB_PROT (known keys: {IB_KEYS})",
        ),
    ],
)
def test_bad_environment_value_names_the_key_value_and_variable(environ, expected):
    assert config_error(environ=environ) == expected


def test_env_override_of_a_section_that_is_not_a_table_reports_the_section(toml_file):
    path = toml_file("ib = 5\n")
    assert f"ib = 5 (from {path}): must be a table" in config_error(path, {"POSSYNC_IB_PORT": "4001"})


def test_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    assert config_error(missing) == f"config error: cannot read {missing}: No such file or directory"


def test_directory_instead_of_file_names_it(tmp_path):
    assert config_error(tmp_path) == f"config error: cannot read {tmp_path}: Is a directory"


def test_file_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[ib]\nhost = "caf\xe9"\n')
    assert config_error(path).startswith(f"config error: cannot read {path}: 'utf-8' codec can't decode")


def test_invalid_toml_names_the_file_and_the_position(toml_file):
    path = toml_file("[ib]\nport =\n")
    assert config_error(path).startswith(f"config error: invalid TOML in {path}: Invalid value (at line 2")


def test_an_unknown_ib_client_names_the_two_choices() -> None:
    message = config_error(environ={"POSSYNC_IB_CLIENT": "ibapi"})
    assert message == (
        'config error: ib.client = \'ibapi\' (from POSSYNC_IB_CLIENT): must be one of "ib_async", "ib_insync"'
    )


def test_the_ib_client_is_chosen_by_the_environment() -> None:
    assert load_settings(None, {"POSSYNC_IB_CLIENT": "ib_async"}).ib.client == "ib_async"
    assert load_settings(None, {}).ib.client == "ib_insync"


def test_lake_storage_options_come_from_a_toml_table_and_from_the_environment(toml_file):
    path = toml_file('[lake]\nroot = "s3://b/p"\nstorage_options = { AWS_REGION = "eu-west-1", A = "x" }\n')
    environ = {"POSSYNC_LAKE_STORAGE_OPTIONS_AWS_SECRET_ACCESS_KEY": "k3y", "POSSYNC_LAKE_MAINTENANCE": "off"}
    lake = load_settings(path, environ).lake
    assert lake.storage_options == {"AWS_REGION": "eu-west-1", "A": "x", "AWS_SECRET_ACCESS_KEY": "k3y"}
    assert lake.maintenance == "off" and lake.root == "s3://b/p"
    whole = load_settings(path, {"POSSYNC_LAKE_STORAGE_OPTIONS": '{"B": "y"}'}).lake
    assert whole.storage_options == {"B": "y"}


@pytest.mark.parametrize(
    ("text", "environ"),
    [
        ("[lake]\nstorage_options = { K = 1 }\n", {}),
        ("", {"POSSYNC_LAKE_STORAGE_OPTIONS": "s3cr3t not json"}),
    ],
)
def test_bad_storage_options_name_the_key_and_never_show_the_values(toml_file, text, environ):
    with pytest.raises(ConfigError) as caught:
        load_settings(toml_file(text), environ)
    message = str(caught.value)
    assert "lake.storage_options" in message and "table of strings" in message
    assert "s3cr3t" not in message and "\n" not in message
