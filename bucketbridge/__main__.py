"""``python -m bucketbridge``: the ``bucketbridge`` command."""

import sys

from .cli import main

sys.exit(main())
