"""`python -m portal.owner`: regenerate the web app's PNG icons under static/icons/."""

import sys

from core.settings import PROJECT_ROOT
from portal.owner.pwa import write_icons

for path in write_icons(PROJECT_ROOT / "static" / "icons"):
    sys.stdout.write(f"{path}\n")
