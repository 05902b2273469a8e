"""``python -m satwatch``: the ``satwatch`` command (:func:`satwatch.cli.main`)."""

import sys

from satwatch.cli import main

sys.exit(main())
