"""Real user agents, by the browser they come from: the OS's WiFi sign-in sheets, apps' own browsers, mini programs'
web-views and the phone's own browsers (portal/captive/probes.py tells them apart)."""

from __future__ import annotations

SIGN_IN_SHEETS = {
    "ios-cna": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Mobile/15E148",
    "ios-12-cna": "Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Mobile/16A366",
    "ipad-cna": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "macos-cna": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_1) AppleWebKit/602.2.14 (KHTML, like Gecko)",
    "apple-probe": "CaptiveNetworkSupport-441 wispr",
    "android-sign-in": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36",
}

KNOWN_APPS = {
    "wechat-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/zh_CN",
    "wechat-android": "Mozilla/5.0 (Linux; Android 13; V2185A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5075 "
                      "MMWEBSDK/20230604 MMWEBID/7189 MicroMessenger/8.0.38.2400(0x28002637) WeChat/arm64 "
                      "Weixin NetType/WIFI Language/zh_CN ABI/arm64",
    "wecom-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 wxwork/4.1.6 MicroMessenger/7.0.1 Language/zh ColorScheme/Light",
    "alipay-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Mobile/15E148 ChannelId(2) Ariver/1.0.0 Nebula WK RVKType(0) AliApp(AP/10.5.30.6000) "
                  "AlipayClient/10.5.30.6000 Language/zh-Hans Region/CN NebulaX/1.0.0",
    "alipay-android": "Mozilla/5.0 (Linux; U; Android 12; zh-CN; M2102K1C Build/SKQ1.211006.001; wv) "
                      "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 "
                      "Mobile Safari/537.36 AliApp(AP/10.3.70.8000) AlipayClient/10.3.70.8000 "
                      "Language/zh-Hans useStatusBar/true",
    "qq-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Mobile/15E148 QQ/8.9.78.612 V1_IPH_SQ_8.9.78_1_APP_A Pixel/1170 MiniAppEnable SimpleUISwitch/0 "
              "StudyMode/0 CurrentMode/0 CurrentFontScale/1.000000 QQTheme/1000 Core/WKWebView Device/Apple(iPhone "
              "13) NetType/WIFI QBWebViewType/1 WKType/1",
    "qq-android": "Mozilla/5.0 (Linux; Android 12; PEQM00 Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Version/4.0 Chrome/89.0.4389.72 MQQBrowser/6.2 TBS/046279 Mobile Safari/537.36 "
                  "V1_AND_SQ_8.9.28_3700_YYB_D QQ/8.9.28.10155 NetType/WIFI WebP/0.3.0 AppId/537146425",
    "weibo-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148 Weibo (iPhone14,5__weibo__13.1.2__iphone__os16.1)",
    "dingtalk-android": "Mozilla/5.0 (Linux; U; Android 11; zh-CN; M2011K2C Build/RKQ1.200928.002; wv) "
                        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 Mobile Safari/537.36 "
                        "AliApp(DingTalk/7.0.10) com.alibaba.android.rimet/27451249 Channel/700159 language/zh-CN "
                        "abi/64 UT4Aplus/0.2.25 colorScheme/light",
    "douyin-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Mobile/15E148 aweme_26.1.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/zh "
                  "Region/CN AppTheme/light BytedanceWebview/d8a21c6",
    "facebook-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Mobile/15E148 [FBAN/FBIOS;FBAV/441.0.0.23.105;FBBV/548585416;FBDV/iPhone15,2;FBMD/iPhone;"
                    "FBSN/iOS;FBSV/17.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/549924744]",
    "facebook-android": "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
                        "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.43 Mobile Safari/537.36 "
                        "[FB_IAB/FB4A;FBAV/444.0.0.0.110;]",
    "instagram-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                     "Gecko) Mobile/15E148 Instagram 307.0.2.23.108 (iPhone14,2; iOS 17_1_1; en_US; en; "
                     "scale=3.00; 1170x2532; 532277224)",
    "line-android": "Mozilla/5.0 (Linux; Android 13; SO-51C Build/61.2.B.2.96; wv) AppleWebKit/537.36 (KHTML, like "
                    "Gecko) Version/4.0 Chrome/119.0.6045.193 Mobile Safari/537.36 Line/13.21.1/IAB",
}


# Added to IN_APP_BROWSER_TOKENS after they were taken for sign-in sheets (no download on my-data, the keep offer).
OTHER_APPS = {
    "kuaishou-android": "Mozilla/5.0 (Linux; Android 12; PFDM00 Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, "
                        "like Gecko) Version/4.0 Chrome/90.0.4430.210 Mobile Safari/537.36 Kwai/11.5.40.5916 ISLP/0 "
                        "StatusHT/29 KDT/PHONE ISDM/0 TitleHT/44 NetType/WIFI ICFO/0 locale/zh-Hans CT/0 "
                        "Yoda/3.2.7-rc1 ISLB/0 CoIS/2 ISLM/0 AZPREFIX/yz ICBM/0 KsWebView/1.8.90.679 (rel;r) BHT/102",
    "kuaishou-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Mobile/15E148 Kwai/11.9.20.6341 ISLP/0 StatusHT/47 KDT/PHONE iosSCH/0 TitleHT/44 NetType/WIFI "
                    "ISDM/0 ICFO/0 locale/zh-Hans CT/0 Yoda/3.2.8 ISLB/0 CoIS/2 ISLM/0 WebViewType/WK BHT/102",
    "meituan-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                   "Mobile/15E148 TitansX/20.0.1.old KNB/1.0 iOS/17.0 meituangroup/com.meituan.imeituan/12.13.403 "
                   "meituangroup/12.13.403 App/10110/12.13.403 iPhone/iPhone14,2 WKWebView",
    "dianping-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Mobile/15E148 TitansX/11.36.6 KNB/1.2.0 iOS/16.6 dp/com.dianping.dpscope/11.7.0 dianping/11.7.0 "
                    "App/10100/11.7.0 iPhone/iPhone13,2 WKWebView",
    "jd-ios": "jdapp;iPhone;12.1.0;;;M/5.0;appBuild/168960;jdSupportDarkMode/0;ef/1;Mozilla/5.0 (iPhone; CPU iPhone OS "
              "16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148;supportJDSHWK/1;",
    "bilibili-android": "Mozilla/5.0 (Linux; Android 13; 22081212C Build/TKQ1.220829.002; wv) AppleWebKit/537.36 "
                        "(KHTML, like Gecko) Version/4.0 Chrome/114.0.5735.196 Mobile Safari/537.36 os/android "
                        "model/22081212C build/7540300 osVer/13 sdkInt/33 network/2 BiliApp/7540300 mobi_app/android "
                        "channel/html5_search_google innerVer/7540310 c_locale/zh_CN s_locale/zh_CN",
    "ctrip-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Mobile/15E148_eb64__Ctrip_CtripWireless_8.62.0_cDevice=iPhone 13_cSize=w390*h844__v=8.62.0",
    "amap-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Mobile/15E148 amap/13.01.0.2051",
}

# Mini programs' web-views: WeChat's says miniProgram on Android (on iOS it does not: it reads as WeChat's browser),
# Alipay's says MiniProgram.
MINI_PROGRAMS = {
    "wechat-mini-android": "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
                           "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 "
                           "MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin "
                           "NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx3f1c2a9b8d7e6f50",
    "alipay-mini-android": "Mozilla/5.0 (Linux; U; Android 12; zh-CN; M2102K1C Build/SKQ1.211006.001; wv) "
                           "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 "
                           "Mobile Safari/537.36 AliApp(AP/10.3.70.8000) AlipayClient/10.3.70.8000 Language/zh-Hans "
                           "useStatusBar/true isConcaveScreen/true Region/CN Ariver/1.0.0 MiniProgram APXWebView "
                           "NebulaX/1.0.0",
    "alipay-mini-ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                       "Gecko) Mobile/15E148 ChannelId(2) Ariver/1.1.0 AliApp(AP/10.5.86.6000) Nebula WK RVKType(0) "
                       "AlipayDefined(nt:WIFI,ws:390|780|3.0) AlipayClient/10.5.86.6000 Language/zh-Hans Region/CN "
                       "MiniProgram NebulaX/1.0.0",
}

IN_APP_BROWSERS = {**KNOWN_APPS, **OTHER_APPS, **MINI_PROGRAMS}

OWN_BROWSERS = {
    "safari": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.5 Mobile/15E148 Safari/604.1",
    "chrome-android": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
                      "Mobile Safari/537.36",
    "edge-windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
}
