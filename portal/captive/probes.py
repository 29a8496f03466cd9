"""The connectivity probes operating systems send on joining a network, and each one's exact
"you are online" answer (../shared/reference/captive-portals.md section 1).

Before access is granted every probe gets a 302 to the portal: that is what pops each OS's sign-in
browser (Android treats 2xx/3xx other than 204 as a portal; an empty 200 or a 511 reads as "no
internet" there). After the grant each OS must see exactly what its own check server would answer."""

from __future__ import annotations

from dataclasses import dataclass, field

APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX_CANONICAL = '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'


@dataclass(frozen=True)
class Probe:
    os: str
    status: int  # the "online" answer
    body: str = ""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    always_redirect: bool = False  # a page a browser opens, not a check: always send it to the portal


ANDROID = Probe("android", 204)
APPLE = Probe("apple", 200, APPLE_SUCCESS, "text/html")
WINDOWS = Probe("windows", 200, "Microsoft Connect Test")
WINDOWS_LEGACY = Probe("windows", 200, "Microsoft NCSI")
WINDOWS_REDIRECT = Probe("windows", 302, always_redirect=True)  # NCSI opens the browser here
FIREFOX = Probe("firefox", 200, FIREFOX_CANONICAL, "text/html")
FIREFOX_TXT = Probe("firefox", 200, "success\n")
NETWORKMANAGER = Probe("networkmanager", 200, "NetworkManager is online\n")
UBUNTU = Probe("networkmanager", 204, headers={"X-NetworkManager-Status": "online"})
FEDORA = Probe("networkmanager", 200, "OK\n")  # Fedora's NetworkManager-config-connectivity-fedora: response=OK
# Not a probe: a request for any other host that DNS hijacking sent here (portal/captive/lane.py). After the
# grant it gets this page: the phone's DNS cache still points here for a moment, a reload reaches the site.
HIJACKED = Probe("hijacked", 200, "<!doctype html>\n<title>Online</title>\n<p>You are online. Reload this page in a "
                 "moment to reach the site you asked for.</p>\n", "text/html; charset=utf-8")

BY_PATH = {
    "/gen_204": ANDROID,
    "/hotspot-detect.html": APPLE,
    "/library/test/success.html": APPLE,
    "/success.html": APPLE,
    "/connecttest.txt": WINDOWS,
    "/ncsi.txt": WINDOWS_LEGACY,
    "/redirect": WINDOWS_REDIRECT,
    "/canonical.html": FIREFOX,
    "/success.txt": FIREFOX_TXT,
    "/check_network_status.txt": NETWORKMANAGER,
    "/nm-check.txt": NETWORKMANAGER,  # Arch Linux's NetworkManager (ping.archlinux.org), the default response
    "/static/hotspot.txt": FEDORA,
    "/captiveportal/generate_204": ANDROID,  # Microsoft Edge's own check (edge.microsoft.com): 204 as Android
}
# Hosts whose root path is a probe (Ubuntu's NetworkManager checks http://connectivity-check.ubuntu.com/).
BY_HOST_ROOT = {"connectivity-check.ubuntu.com": UBUNTU, "connectivity-check.ubuntu.com.": UBUNTU}


def match_probe(host: str, path: str) -> Probe | None:
    """Match by path (Chinese OEM Android builds use their own hosts, e.g. generate_204_<uuid> on
    hicloud, so the host is not trusted for Android), and by host only where the path is '/'."""
    if path.startswith("/generate_204"):
        return ANDROID
    if path == "/":
        return BY_HOST_ROOT.get(host.split(":")[0].lower())
    return BY_PATH.get(path)


# Apps' own browsers (lower case): WebKit without "Safari" on iOS and a WebView ("; wv)") on Android, as the
# sign-in sheets are, but they keep cookies and stay open; each names its app. WeChat, WeCom, mini programs,
# Alipay and Taobao/DingTalk (AliApp), QQ, Weibo, Douyin/TikTok, Toutiao, Kuaishou, Meituan, Dianping, JD,
# Bilibili, Ctrip, Amap, Baidu, Xiaohongshu, Facebook, Messenger, Instagram, LINE, KakaoTalk, Snapchat, Pinterest,
# LinkedIn, X's Android app. One missing here is taken for a sign-in sheet (no download, no manifest, the keep offer).
MINI_PROGRAM_TOKEN = "miniprogram"
IN_APP_BROWSER_TOKENS = (
    "micromessenger", "wxwork/", MINI_PROGRAM_TOKEN, "alipayclient", "aliapp(", "dingtalk", " qq/",
    "weibo", "bytedancewebview", "aweme", "musical_ly", "newsarticle/", "kwai", "kswebview", "meituangroup",
    "dianping", "jdapp", "biliapp", "ctrip", "amap", "baiduboxapp", "xhsdiscover", "fban/", "fbav/", "fb_iab",
    "instagram", " line/", "kakaotalk", "snapchat", "pinterest", "linkedinapp", "twitterandroid",
)
SIGN_IN_SHEET = "sign-in"  # browser_kind's name of the OS's WiFi sign-in sheet


def is_captive_browser(user_agent: str) -> bool:
    """Apple's CNA mini-browser (no persistent cookies, no new windows) or Android's sign-in WebView (the system
    WebView's own user agent). Windows opens the user's own browser. An app's in-app browser is none of them."""
    ua = user_agent or ""
    if in_app_browser(ua):
        return False
    apple_cna = ("iPhone" in ua or "iPad" in ua or "Macintosh" in ua) and "Safari" not in ua and "AppleWebKit" in ua
    return "CaptiveNetworkSupport" in ua or apple_cna or "; wv)" in ua


def in_app_browser(user_agent: str) -> str:
    """Which app's own browser this is, where that decides how its shopper can pay (portal/payments/service.py
    `methods_for`): "miniprogram" (a mini program's web-view, WeChat's or Alipay's: the UA says miniProgram on
    Android; WeChat's on iOS does not, and reads as WeChat's browser), "wechat" (MicroMessenger; not WeCom, whose
    browser says MicroMessenger too, with wxwork/, but signs in no WeChat user), "alipay" (AlipayClient), "other"
    (another app of IN_APP_BROWSER_TOKENS) or "" (the phone's own browser, a sign-in sheet)."""
    lowered = (user_agent or "").lower()
    if MINI_PROGRAM_TOKEN in lowered:
        return "miniprogram"
    if "micromessenger" in lowered and "wxwork/" not in lowered:
        return "wechat"
    if "alipayclient" in lowered:
        return "alipay"
    return "other" if any(token in lowered for token in IN_APP_BROWSER_TOKENS) else ""


def browser_kind(user_agent: str) -> str:
    """The browser as the payment rule names it: `in_app_browser`'s name, SIGN_IN_SHEET for the OS's WiFi sign-in
    sheet, "" for the phone's own browser."""
    return SIGN_IN_SHEET if is_captive_browser(user_agent) else in_app_browser(user_agent)
