"""`python -m portal.owner`: regenerate the web app's PNG icons under static/icons/."""

import sys

from portal.owner.pwa import write_icons
from portal.settings import PROJECT_ROOT

for path in write_icons(PROJECT_ROOT / "static" / "icons"):
    sys.stdout.write(f"{path}\n")
