"""The zone-owner console (blueprint "owner", /console/owner/<venue>/...) and the installable web app's
root-level routes (blueprint "pwa": /sw.js, /pwa/offline), which the owner blueprint registers with it so
the app factory needs one line for both."""

from __future__ import annotations

from portal.owner.pwa import pwa_bp
from portal.owner.views import bp


@bp.record_once
def _register_pwa(state) -> None:
    state.app.register_blueprint(pwa_bp)


__all__ = ["bp", "pwa_bp"]
