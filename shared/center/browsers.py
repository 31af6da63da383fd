"""Which browsers can use passkeys on the center's pages.

In-app browsers (WebViews) mostly cannot: WeChat's, QQ's, Weibo's, Alipay's, DingTalk's, Feishu's,
Douyin's and Toutiao's, Baidu's app, and Android's generic WebView (``; wv)``) either lack WebAuthn or
show no passkey UI. There the pages offer no passkey at all, and point to WeChat and SMS codes instead.
Elsewhere the page's script still checks ``window.PublicKeyCredential`` before it shows anything.
"""

from __future__ import annotations

WEBVIEW_MARKERS = (
    "micromessenger",  # WeChat
    " qq/",  # the QQ app (not QQBrowser)
    "weibo",
    "alipayclient",
    "dingtalk",
    "lark/",
    "feishu",
    "aweme",  # Douyin
    "newsarticle",  # Toutiao
    "bytedancewebview",
    "baiduboxapp",
    "; wv)",  # Android System WebView
)


def passkeys_usable(user_agent: str | None) -> bool:
    """False in the in-app browsers above (the page offers WeChat and SMS codes instead)."""
    agent = (user_agent or "").lower()
    return not any(marker in agent for marker in WEBVIEW_MARKERS)
