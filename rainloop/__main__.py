import sys

from rainloop.cli import main

sys.exit(main())
