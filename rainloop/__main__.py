"""`python -m rainloop`: the same as the `rainloop` command."""

import sys

from rainloop.cli import main

sys.exit(main())
