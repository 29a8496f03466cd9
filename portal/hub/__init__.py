"""The mall hub every shopper page carries: the header's Home / Search / Me, the Me page (each app's part,
portal/apps/mine.py), the privacy notice and consents (portal/consent.py), and keeping the shopper in the
phone's real browser after the sign-in sheet closes (`keep`)."""

from portal.hub.views import bp, init_hub

__all__ = ["bp", "init_hub"]
