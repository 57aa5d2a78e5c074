"""Load `Settings`: a TOML file, then `POSSYNC_<SECTION>_<KEY>` environment overrides, then validation.

Every user mistake becomes one `ConfigError` line naming the key, the bad value, where it came from and
what is allowed. An environment variable whose SECTION is a known section must name a known key (a typo
is an error, never silently ignored); any other `POSSYNC_*` variable is not configuration and is ignored.
Section names therefore contain no underscore; keys may (`POSSYNC_IB_CLIENT_ID` is `ib.client_id`).
A table-valued key takes one entry per variable (`POSSYNC_LAKE_STORAGE_OPTIONS_AWS_REGION=us-east-1` sets
`lake.storage_options["AWS_REGION"]`), or the whole table as JSON (`POSSYNC_LAKE_STORAGE_OPTIONS='{...}'`).
"""

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect

from possync.config.settings import InvalidSetting, Settings

ENV_PREFIX = "POSSYNC_"

_SECTIONS: dict[str, inspect.StructType] = {f.name: f.type for f in inspect.type_info(Settings).fields}
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(?P<name>[^`]*)`")


class ConfigError(Exception):
    """A user mistake in the configuration; `str()` is one line naming the key, the value and the rule."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"config error: {detail}")


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path` (None: the packaged `config/default.toml`), apply `environ` (None: `os.environ`), validate.

    Raises `ConfigError` for any bad input: unreadable file, invalid TOML, unknown section or key, a value of
    the wrong type or outside its allowed range, a bad environment value.
    """
    source = resources.files(__package__) / "default.toml" if path is None else Path(path)
    raw = _read_toml(source)
    env_origins = _apply_env(raw, os.environ if environ is None else environ)
    try:
        return msgspec.convert(raw, Settings)
    except msgspec.ValidationError as err:
        raise _explain(err, raw, lambda key: env_origins.get(key, str(source))) from err


def _read_toml(source: Path | Traversable) -> dict[str, Any]:
    """The parsed TOML document at `source`."""
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {source}: {exc}") from exc


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Merge the `POSSYNC_<SECTION>_<KEY>` overrides into `raw`; return the variable that set each key."""
    origins: dict[str, str] = {}
    for name, text in environ.items():
        section, _, key = name.removeprefix(ENV_PREFIX).lower().partition("_")
        if not name.startswith(ENV_PREFIX) or section not in _SECTIONS:
            continue
        fields = _fields(section)
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):  # validation reports the section itself
            continue
        if (entry := _table_entry(fields, key)) is not None:
            dict_key, item = entry
            origins[f"{section}.{dict_key}"] = name
            _set_entry(table, dict_key, item.upper(), text, f"{section}.{dict_key}")
            continue
        if key not in fields:
            raise _unknown(section, key, f"from {name}")
        dotted = f"{section}.{key}"
        origins[dotted] = name
        table[key] = _from_env(dotted, text, fields[key], name)
    return origins


def _table_entry(fields: dict[str, inspect.Type], key: str) -> tuple[str, str] | None:
    """(table-valued key, entry) when `key` is `<dict key>_<entry>`, e.g. storage_options_aws_region."""
    for name, info in fields.items():
        if isinstance(info, inspect.DictType) and key.startswith(f"{name}_") and len(key) > len(name) + 1:
            return name, key[len(name) + 1 :]
    return None


def _set_entry(table: dict[str, Any], key: str, entry: str, text: str, dotted: str) -> None:
    """Set one entry of the table-valued `key` (a copy: the TOML's own table may be shared)."""
    current = table.get(key)
    if not isinstance(current, dict):
        current = {}
    table[key] = {**current, entry: text}


def _from_env(key: str, text: str, info: inspect.Type, name: str) -> Any:
    """`text` converted to the type of the field `key` describes by `info`."""
    convert: Callable[[str], Any] = {
        inspect.DictType: json.loads,
        inspect.IntType: int,
        inspect.FloatType: float,
        inspect.BoolType: _parse_bool,
        inspect.StrType: str,
        inspect.LiteralType: str,
    }[type(info)]
    try:
        return convert(text)
    except ValueError as exc:
        raise _bad_value(key, _shown(info, text), name, _allowed(info)) from exc


def _shown(info: inspect.Type, text: str) -> str:
    """The value to show in an error: a table (it may hold credentials) is never shown."""
    return "<a table, not shown>" if isinstance(info, inspect.DictType) else text


def _parse_bool(text: str) -> bool:
    """`true`/`1`/`yes` or `false`/`0`/`no`, in any case."""
    word = text.strip().lower()
    if word not in _BOOLS:
        raise ValueError(f"not a boolean: {text!r}")
    return _BOOLS[word]


def _explain(err: msgspec.ValidationError, raw: dict[str, Any], origin: Callable[[str], str]) -> ConfigError:
    """Rephrase msgspec's error (`... - at `$.ib.port``) as a one-line `ConfigError` about `ib.port`."""
    problem, _, at = str(err).partition(" - at `$")
    path = at.strip(".`")
    if unknown := _UNKNOWN_FIELD.fullmatch(problem):
        section, key = (path, unknown["name"]) if path else (unknown["name"], "")
        return _unknown(section, key, f"in {origin(path)}")
    if isinstance(cause := err.__cause__, InvalidSetting):
        key = f"{path}.{cause.key}"
        where = origin(key) if cause.key in raw[path] else "built-in default"
        return _bad_value(key, cause.value, where, cause.rule)
    section, _, key = path.partition(".")
    if key:
        key = re.split(r"[.\[]", key)[0]  # a table-valued key's entry: the error is about the key
        info, dotted = _fields(section)[key], f"{section}.{key}"
        value = "<a table, not shown>" if isinstance(info, inspect.DictType) else raw[section][key]
        return _bad_value(dotted, value, origin(dotted), _allowed(info))
    return _bad_value(path, raw[section], origin(path), _allowed(_SECTIONS[section]))


def _bad_value(key: str, value: object, origin: str, rule: str) -> ConfigError:
    """The error for a value of `key` that breaks `rule`."""
    return ConfigError(f"{key} = {value!r} (from {origin}): {rule}")


def _unknown(section: str, key: str, where: str) -> ConfigError:
    """The error for an unknown `section.key` (or an unknown `section` when `key` is empty)."""
    if section not in _SECTIONS:
        return ConfigError(f"unknown section {section!r} {where} (known sections: {', '.join(_SECTIONS)})")
    return ConfigError(f"unknown key '{section}.{key}' {where} (known keys: {', '.join(_fields(section))})")


def _fields(section: str) -> dict[str, inspect.Type]:
    """The keys of a known `section` and their types."""
    return {f.name: f.type for f in _SECTIONS[section].fields}


def _allowed(info: inspect.Type) -> str:
    """What a value of this type may be, e.g. `must be an integer between 1 and 65535`."""
    if isinstance(info, inspect.StructType):
        return f"must be a table with keys {', '.join(f.name for f in info.fields)}"
    if isinstance(info, inspect.DictType):
        return 'must be a table of strings, e.g. { AWS_REGION = "us-east-1" } (JSON in the environment)'

    if isinstance(info, inspect.BoolType):
        return "must be true or false"
    if isinstance(info, inspect.LiteralType):
        return "must be one of " + ", ".join(f'"{value}"' for value in info.values)
    if isinstance(info, inspect.StrType):
        return "must be a non-empty string" if info.min_length else "must be a string"
    kind = "an integer" if isinstance(info, inspect.IntType) else "a number"
    if info.ge is not None and info.le is not None:
        return f"must be {kind} between {info.ge} and {info.le}"
    limits = ((">=", info.ge), (">", info.gt), ("<=", info.le), ("<", info.lt))
    return f"must be {kind}" + "".join(f" {op} {limit}" for op, limit in limits if limit is not None)
