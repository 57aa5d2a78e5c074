"""possync: an Interactive Brokers account's positions in Delta Lake, within the market-data line budget.

    from possync import Service

The whole distribution lives under this one import name: the facade (`Service`), the command line
(`possync.cli`, also the `possync` console script), and the layers `possync.config`, `possync.messages`,
`possync.supervisors`, `possync.actors` and `possync.simulator`. In the repository those layers are the
top-level folders beside this one (the tree of folders is the architecture); installed, pyproject's
`package-dir` places them inside this package. In a source checkout the folder above is added to this
package's path, so `possync.actors` is `./actors` whether or not the checkout is installed.
"""

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "actors" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))

from possync._service import ChangeRefusedError, Service  # noqa: E402

__all__ = ["ChangeRefusedError", "Service"]
