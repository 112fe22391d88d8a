import sys

from wcs_trio.core.cli import main

sys.exit(main())
