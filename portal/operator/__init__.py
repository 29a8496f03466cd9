"""The operator console (the mall's IT / facilities): one venue per operator account.

    /console/ops/<venue>/         links to the operator pages
    /console/ops/<venue>/health   ingest health: reports/s per source, last report per AP, silent APs
                                  (HTML; JSON with Accept: application/json)
    /console/ops/<venue>/audit    the venue's audit log, read-only (portal/operator/audit.py)"""

from portal.operator import (  # noqa: F401 - register routes
    audit,
    footfall,
    home,
    insights,
    moments,
    opening,
    outbox,
    owners,
    quality,
    surveys,
    validation,
    venue_setup,
    versions,
    walks,
)
from portal.operator.blueprint import bp, require_operator_venue, wants_json

__all__ = ["bp", "require_operator_venue", "wants_json"]
