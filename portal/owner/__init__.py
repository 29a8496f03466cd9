"""The zone-owner console (blueprint "owner", /console/owner/<venue>/...) and the installable web app's
root-level routes (blueprint "pwa": /sw.js, /pwa/offline); portal/bootstrap.py registers both."""

from __future__ import annotations

from portal.owner import insights, ledger, moments  # noqa: F401 - register their routes on bp
from portal.owner.pwa import pwa_bp
from portal.owner.views import bp

__all__ = ["bp", "pwa_bp"]
