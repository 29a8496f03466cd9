"""Light apps: one package per app, each a Flask blueprint with its own store, templates and tests.
The portal loads the apps the LIGHT_APPS setting names (core/settings.py) through `portal.apps.registry`;
an app imports the platform (`portal.apps`), never the other way round."""
