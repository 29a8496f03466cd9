"""Light apps: one package per app, each a Flask blueprint with its own store, templates and tests.
`registry.discover()` finds them; adding an app touches no other app."""
