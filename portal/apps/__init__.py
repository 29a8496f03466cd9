"""The light-app platform the host owns: the registry and contract (`registry`), which app each zone runs
(`zone_apps`) and the view helpers every app shares (`views`). Light apps import this; it never imports them."""
