"""``python -m mapper``: the same as the ``mapper`` command (and the same exit codes)."""

import sys

from mapper.cli import main

if __name__ == "__main__":
    sys.exit(main())
