"""`python run.py ...` from the repository: possync's command line (installed, the `possync` command)."""

import sys

from possync.cli import main

if __name__ == "__main__":
    sys.exit(main())
