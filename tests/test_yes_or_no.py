"""One set of yes/no words for the environment, the shopper pages' ?accessible= and the consoles' checkboxes
(core.settings.yes_or_no): a word one of them takes, all of them take."""

import pytest

from core.settings import Settings, yes_or_no
from lightapps.navigation.routing import PlaceError, parse_bool


@pytest.mark.parametrize("word, flag", [("1", True), ("Yes", True), (" on ", True), ("TRUE", True),
                                        ("0", False), ("no", False), ("Off", False), ("false", False)])
def test_every_reader_takes_the_same_words(word, flag):
    assert yes_or_no(word) is flag
    assert parse_bool(word) is flag
    assert Settings.from_env({"DEMO": word}).demo is flag


def test_blank_is_the_callers_default_and_anything_else_is_refused():
    assert yes_or_no(None) is None and yes_or_no("  ", empty=False) is False
    assert yes_or_no("maybe") is None
    assert parse_bool("") is False
    with pytest.raises(PlaceError):
        parse_bool("maybe")
    with pytest.raises(ValueError, match="must be 1 or 0"):
        Settings.from_env({"DEMO": "maybe"})
