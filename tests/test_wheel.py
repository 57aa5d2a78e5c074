"""Installed from its wheel, possync is one import name: a bot with its own `config.py`, `messages/` and
`actors/` embeds it, and the `possync` command runs the demo from any directory.

The wheel is built from this checkout and installed (not editable, without dependencies) into a fresh
virtual environment that sees the test environment's dependencies through a path file, so no package is
downloaded but the build backend.
"""

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BOT_CONFIG = '"""The bot\'s own settings module: the most common file name in a bot."""\nSTRATEGY = "bot"\n'
BOT = '''
"""A bot embedding possync next to its own `config`, `messages` and `actors`."""
import sys
import time

import actors
import config
import messages
from possync import Service
from possync.config import HttpSettings, IbSettings, LakeSettings, Settings
from possync.messages.domain import Contract
from possync.simulator import Simulator, SimulatorConfig

simulator = Simulator(SimulatorConfig(positions=5, tick_hz=20.0))
settings = Settings(
    ib=IbSettings(port=simulator.start()), lake=LakeSettings(root=sys.argv[1]), http=HttpSettings(port=0)
)
updates = []
with Service(settings) as service:
    service.on_update(updates.append)
    p = simulator.positions()[0]
    service.activate(p.conid, config.STRATEGY, contract=Contract(p.conid, p.symbol, p.sec_type))
    deadline = time.monotonic() + 60
    while not updates and time.monotonic() < deadline:
        time.sleep(0.05)
simulator.stop()
assert updates, "no streamed update within 60 s"
print("bot ok:", config.STRATEGY, messages.KIND, actors.KIND, len(updates) > 0)
'''


def _run(args: list[str], cwd: Path, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _tracked_copy(target: Path) -> Path:
    """A copy of the files git tracks in this checkout (what a fresh clone holds, with local edits)."""
    listed = _run(["git", "ls-files", "-z"], REPO).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], set[str]]:
    """A fresh venv with the wheel installed: (its python, new site-packages entries, new scripts)."""
    root = tmp_path_factory.mktemp("wheel")
    source = _tracked_copy(root / "source")  # the build writes build/ and *.egg-info/: not into the clone
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)], root)
    (wheel,) = dist.glob("possync-*.whl")
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], root
        ).stdout.strip()
    )
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    before, scripts_before = set(p.name for p in site.iterdir()), set(p.name for p in python.parent.iterdir())
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], root)
    new = {p.name for p in site.iterdir()} - before
    scripts = {p.name for p in python.parent.iterdir()} - scripts_before
    return python, new, scripts


@pytest.mark.timeout(600)
def test_the_wheel_adds_one_import_name_and_one_command(installed: tuple[Path, set[str], set[str]]) -> None:
    _, new, scripts = installed
    assert {name for name in new if not name.endswith(".dist-info")} == {"possync"}
    assert scripts == {"possync"}


@pytest.mark.timeout(600)
def test_the_possync_command_runs_the_demo_from_another_directory(
    installed: tuple[Path, set[str], set[str]], tmp_path: Path
) -> None:
    python, _, _ = installed
    done = _run([str(python.parent / "possync"), "--sim", "--duration", "5"], tmp_path)
    assert "stopped cleanly" in done.stderr
    assert (tmp_path / "lake-sim" / "position_updates").is_dir()


@pytest.mark.timeout(600)
def test_a_bot_with_its_own_config_messages_and_actors_embeds_the_service(
    installed: tuple[Path, set[str], set[str]], tmp_path: Path
) -> None:
    python, _, _ = installed
    bot = tmp_path / "bot"
    for package in ("messages", "actors"):
        (bot / package).mkdir(parents=True)
        (bot / package / "__init__.py").write_text(f'KIND = "the bot\'s own {package}"\n')
    (bot / "config.py").write_text(BOT_CONFIG)
    (bot / "bot.py").write_text(BOT)
    done = _run([str(python), "bot.py", str(tmp_path / "lake")], bot)
    assert "bot ok: bot the bot's own messages the bot's own actors True" in done.stdout


@pytest.mark.timeout(600)
def test_the_status_page_is_package_data_of_the_wheel(
    installed: tuple[Path, set[str], set[str]], tmp_path: Path
) -> None:
    python, _, _ = installed
    read = "from possync.actors.service._http import page_html; print(len(page_html()))"
    done = _run([str(python), "-c", read], tmp_path)
    assert int(done.stdout) > 10_000
