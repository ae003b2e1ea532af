"""``python -m bucketbridge.cli``: the ``bucketbridge`` command."""

import sys

from . import main

sys.exit(main())
