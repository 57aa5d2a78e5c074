"""Where the lake is: a local directory or an object-store URI, its storage options, and its local state.

Every read and write of a Delta table in possync takes its URI and storage options from a `LakeLocation`:
the writer's sink, the read path, the registry store, the CLI and the reconciler. A local lake keeps its
journal and queue state next to its tables (`<root>/_journal`); an object-store lake (`s3://`, `s3a://`,
`gs://`, `az://`, `abfss://`, ... : whatever delta-rs supports) keeps them under `lake.local_dir`, by default
`./possync-state/<bucket>/<prefix>` in the working directory. Only local lakes get local-only care
(fsync of committed files, removal of half-written `…#1` staging files).

Credentials in the storage options never reach a log line, `/status` or an error: `redact` replaces every
secret value (and any `user:password@` in a URI) with `***`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from possync.config.settings import LakeSettings

STATE_DIR = "possync-state"
"""Under the working directory: the local state of object-store lakes when `lake.local_dir` is empty."""

_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_SECRET_KEY = re.compile(r"secret|token|password|session|credential|sas|account_key|access_key|key_id", re.I)
_LOCAL_SCHEMES = {"file"}


@dataclass(frozen=True)
class LakeLocation:
    """A lake root (local path or URI) with the storage options every reader and writer must pass."""

    uri: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    local_dir: Path = Path()

    @classmethod
    def of(
        cls,
        root: "str | Path | LakeLocation",
        storage_options: Mapping[str, str] | None = None,
        local_dir: str = "",
    ) -> "LakeLocation":
        """The location of `root` (returned as is if it is one already); `local_dir` "" means the default."""
        if isinstance(root, LakeLocation):
            return root
        text = str(root)
        match = _SCHEME.match(text)
        options = dict(storage_options or {})
        if match is None or match["scheme"].lower() in _LOCAL_SCHEMES:
            path = Path(match["rest"] if match else text).absolute()
            return cls(str(path), options, Path(local_dir).absolute() if local_dir else path)
        state = Path(local_dir) if local_dir else Path(STATE_DIR) / _slug(match["rest"])
        return cls(text.rstrip("/"), options, state.absolute())

    @property
    def is_local(self) -> bool:
        """Whether the tables are in a local directory (fsync and staging-file cleanup apply)."""
        return _SCHEME.match(self.uri) is None

    @property
    def path(self) -> Path:
        """The root directory of a local lake (only for `is_local`)."""
        return Path(self.uri)

    @property
    def options(self) -> dict[str, str] | None:
        """The storage options as delta-rs takes them (None when there are none)."""
        return dict(self.storage_options) or None

    def table_uri(self, name: str) -> str:
        """The URI (or local path) of table `name`."""
        return f"{self.uri}/{name}"

    def journal_dir(self) -> Path:
        """The writer's journal directory."""
        return self.local_dir / "_journal"

    def is_table(self, name: str) -> bool:
        """Whether table `name` exists."""
        return self.open(name) is not None

    def open(self, name: str) -> DeltaTable | None:
        """Table `name` at its latest version, or None if it does not exist yet.

        Not `DeltaTable.is_deltatable`: it holds the GIL during its network I/O (every thread of the
        service would wait for the object store); opening the table releases it.
        """
        try:
            return DeltaTable(self.table_uri(name), storage_options=self.options)
        except TableNotFoundError:
            return None

    def redact(self, text: str) -> str:
        """`text` with every secret storage option value and URI password replaced by `***`."""
        for key, value in self.storage_options.items():
            if value and len(value) >= 4 and _SECRET_KEY.search(key):
                text = text.replace(value, "***")
        return _USERINFO.sub(r"\g<scheme>***@", text)

    def __str__(self) -> str:
        """The root, safe to log."""
        return self.redact(self.uri)


def _slug(rest: str) -> str:
    """`bucket/prefix/x` as a directory name: `bucket_prefix_x` (no user info, no odd characters)."""
    rest = rest.rsplit("@", 1)[-1].strip("/")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", rest) or "lake"


def location_of(settings: LakeSettings) -> LakeLocation:
    """The location a `LakeSettings` describes."""
    return LakeLocation.of(settings.root, settings.storage_options, settings.local_dir)
