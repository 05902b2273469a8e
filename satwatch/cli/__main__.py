"""``python -m satwatch.cli``: the ``satwatch`` command."""

import sys

from satwatch.cli import main

sys.exit(main())
