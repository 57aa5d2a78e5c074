"""Where the service keeps its local state: derived from the settings in one place.

State that belongs to a lake lives next to it: `<lake.root>/_state/` (the queue's state file is
`<lake.root>/_state/queue.msgpack` unless `queue.state_file` names another file). Another setting (an
object-store lake's local directory) changes `state_dir` only.
"""

from pathlib import Path

from possync.config.settings import Settings

STATE_DIR = "_state"
QUEUE_STATE = "queue.msgpack"


def state_dir(settings: Settings) -> Path:
    """The directory of the service's local state for its lake."""
    return Path(settings.lake.root) / STATE_DIR


def queue_state_file(settings: Settings) -> Path:
    """The queue's state file: `queue.state_file` if set, else `<state_dir>/queue.msgpack`."""
    return Path(settings.queue.state_file) if settings.queue.state_file else state_dir(settings) / QUEUE_STATE
