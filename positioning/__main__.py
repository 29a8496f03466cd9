import sys

from positioning.cli import main

sys.exit(main())
