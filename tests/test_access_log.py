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
    assert "%(U)s" in fmt  # the path
    for leaky in ("%(r)s", "%(q)s", "%(f)s", "%({raw_uri}e)s"):
        assert leaky not in fmt


def test_a_probe_with_a_mac_leaves_no_mac_in_the_log(tmp_path):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    cfg = Config()
    cfg.set("access_log_format", _config().access_log_format)
    cfg.set("accesslog", str(tmp_path / "access.log"))
    logger = Logger(cfg)

    class Resp:
        status = "302 Found"
        sent = 0
        headers = []
        response_length = 0

    class Req:
        headers = [("REFERER", "http://x/v/demo/?c=demo.SECRETTOKEN")]
        method, path, query, version = "GET", "/generate_204", "client_mac=02:00:5e:00:53:01", (1, 1)
        uri = "/generate_204?client_mac=02:00:5e:00:53:01"

    environ = {"REMOTE_ADDR": "127.0.0.1", "QUERY_STRING": Req.query, "RAW_URI": Req.uri, "PATH_INFO": Req.path,
               "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_REFERER": Req.headers[0][1]}
    import datetime

    logger.access(Resp(), Req(), environ, datetime.timedelta(seconds=0.01))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert "/generate_204" in line
    assert "02:00:5e" not in line and "SECRETTOKEN" not in line
