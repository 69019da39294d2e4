"""`python -m quantmini.cli`: the console script without the installed entry point."""

import sys

from quantmini.cli import main

if __name__ == "__main__":
    sys.exit(main())
