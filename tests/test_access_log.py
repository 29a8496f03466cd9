"""The access log of `make run`'s gunicorn never holds a client MAC or a shopper token (issue 14)."""

from __future__ import annotations

import importlib.util

from core.settings import PROJECT_ROOT


def _config():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", PROJECT_ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_access_log_format_has_no_query_string_and_no_referer():
    fmt = _config().access_log_format
    assert "%({x-logged-path}o)s" in fmt  # the path, as the app names it (its secret values masked)
    for leaky in ("%(r)s", "%(q)s", "%(f)s", "%({raw_uri}e)s", "%(U)s"):
        assert leaky not in fmt


def logged_line(tmp_path, path: str, query: str, response_headers: list[tuple[str, str]]) -> str:
    """The line gunicorn's access log writes, with the project's format, for a GET of `path?query` answered with
    `response_headers`."""
    import datetime

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    cfg = Config()
    cfg.set("access_log_format", _config().access_log_format)
    cfg.set("accesslog", str(tmp_path / "access.log"))
    logger = Logger(cfg)

    class Resp:
        status = "302 Found"
        sent = 0
        headers = response_headers
        response_length = 0

    class Req:
        headers = [("REFERER", "http://x/v/demo/?c=demo.SECRETTOKEN")]
        method, version = "GET", (1, 1)

    Req.path, Req.query, Req.uri = path, query, f"{path}?{query}"
    environ = {"REMOTE_ADDR": "127.0.0.1", "QUERY_STRING": query, "RAW_URI": Req.uri, "PATH_INFO": path,
               "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_REFERER": Req.headers[0][1]}
    logger.access(Resp(), Req(), environ, datetime.timedelta(seconds=0.01))
    for handler in logger.access_log.handlers:
        handler.flush()
    return (tmp_path / "access.log").read_text()


def test_a_probe_with_a_mac_leaves_no_mac_in_the_log(tmp_path, client):
    answer = client.get("/generate_204?client_mac=02:00:5e:00:53:01", headers={"Host": "connectivitycheck.gstatic.com"})
    line = logged_line(tmp_path, "/generate_204", "client_mac=02:00:5e:00:53:01", list(answer.headers.items()))
    assert '"GET /generate_204 HTTP/1.1"' in line
    assert "02:00:5e" not in line and "SECRETTOKEN" not in line


def test_a_paths_own_secrets_are_masked_in_the_log(tmp_path, client, demo):
    """A CAPPORT URI's token and a coupon's code are in the path itself: the log shows the route instead."""
    token = "WyJkZW1vIiwiY2xpZW50LTEiXQ.aBcDeF.SECRETSIGNATURE"
    answer = client.get(f"/capport/api/{token}")
    assert answer.status_code == 404 and answer.headers["X-Logged-Path"] == "/capport/api/<token>"
    line = logged_line(tmp_path, f"/capport/api/{token}", "", list(answer.headers.items()))
    assert '"GET /capport/api/<token> HTTP/1.1"' in line and "SECRETSIGNATURE" not in line
    coupon = client.get("/v/demo/coupons/mine/SECRETCODE7")
    assert coupon.headers["X-Logged-Path"] == "/v/demo/coupons/mine/<code>"  # the venue shown, the code not
    landing = client.get("/v/demo/zone/kopi/coupons")  # a zone's page: where its phone stands is not logged
    assert landing.status_code == 200 and landing.headers["X-Logged-Path"] == "/v/demo/zone/<zone>/coupons"


def test_the_logged_path_fills_in_only_what_a_log_may_show():
    from core.logredact import logged_path

    # a shopper's page: where the phone was placed is not logged beside its address; a console's zone is
    assert logged_path("/v/<venue>/z/<zone>/<int(signed=True):level>", {"venue": "demo", "zone": "kopi", "level": -1},
                       "/v/demo/z/kopi/-1") == "/v/demo/z/<zone>/<level>"
    assert logged_path("/console/owner/<venue>/zone/<zone>", {"venue": "demo", "zone": "kopi"},
                       "/console/owner/demo/zone/kopi") == "/console/owner/demo/zone/kopi"
    assert logged_path("/console/users/<username>", {"username": "alice"}, "/console/users/alice") \
        == "/console/users/<username>"
    # a value is URL-quoted: no newline or quote of a crafted path reaches the log line
    assert logged_path("/v/<venue>/", {"venue": 'a"\nb'}, "") == "/v/a%22%0Ab/"
    # a path no route matched: as it is, redacted; a shopper's page only with its venue (the rest may be a zone)
    assert logged_path(None, None, "/nothing/02:00:5e:00:53:01") == "/nothing/[mac]"
    assert logged_path(None, None, "/v/demo/zone/kopi/nope") == "/v/demo/<unmatched>"


def test_an_answer_before_flask_names_the_route_too(client):
    """A query that is not UTF-8 is refused before Flask (portal/errors.py QueryStringGuard): its logged path is
    still the route, the CAPPORT URI's token masked."""
    raw = {"QUERY_STRING": "x=\xff\xfe"}  # WSGI carries raw bytes as latin-1
    answer = client.get("/capport/api/WyJkZW1vIiwiYyJd.aBcD.SECRETSIG", environ_overrides=raw)
    assert answer.status_code == 400 and answer.headers["X-Logged-Path"] == "/capport/api/<token>"
    static = client.get("/static/css/nope.css", environ_overrides=raw)
    assert static.headers["X-Logged-Path"] == "/static/css/nope.css"  # a <path:filename> keeps its slashes
