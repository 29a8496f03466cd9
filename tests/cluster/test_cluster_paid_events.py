"""An event written once (a paid order's transaction: its mark and the stream entry in one script) on the local
cluster: both keys in the venue's slot."""

from tests.events.test_event_log import test_an_event_emitted_once_is_written_once  # noqa: F401 - run on the cluster
