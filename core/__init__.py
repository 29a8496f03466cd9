"""The floor under everything: the store connection and key builders, settings, security. No Flask."""
