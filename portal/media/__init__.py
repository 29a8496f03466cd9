"""Owners' images (film posters, dishes, shops, events): checked and re-encoded (`images`), kept per venue
within a byte budget (`store`), served with long-lived caching and drawn with srcset (`views`)."""
