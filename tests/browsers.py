"""What the browser tests dress Chromium as (shared by conftest.py and the test modules: import it from
here, not from conftest, which pytest-xdist may resolve to another folder's conftest)."""

IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148")
