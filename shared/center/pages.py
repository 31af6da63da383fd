"""The center's hosted pages: Jinja2 templates (autoescaped), Chinese by default and English by
``ui_locales``, ``Accept-Language`` or the page's switch; the security headers every page carries.
The CSRF check every form post passes is ``shared.center.guard`` (no page library needed there).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.urls import url_origin

HERE = Path(__file__).parent
LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "sign_in": {"zh": "登录", "en": "Sign in"},
    "sign_in_to": {"zh": "登录以继续使用 {app}", "en": "Sign in to continue to {app}"},
    "username": {"zh": "用户名 / 邮箱 / 手机号", "en": "Username, email or phone"},
    "password": {"zh": "密码", "en": "Password"},
    "language": {"zh": "English", "en": "中文"},
    "tab_password": {"zh": "密码登录", "en": "Password"},
    "tab_sms": {"zh": "短信验证码", "en": "SMS code"},
    "tab_email": {"zh": "邮箱验证码", "en": "Email code"},
    "tab_wechat": {"zh": "微信登录", "en": "WeChat"},
    "wechat_continue": {"zh": "使用微信账号登录", "en": "Continue with WeChat"},
    "wechat_scan": {"zh": "请使用微信扫描二维码登录", "en": "Scan the QR code with WeChat"},
    "wechat_open_qr": {"zh": "二维码无法显示？打开微信登录页", "en": "No QR code? Open WeChat's sign-in page"},
    "wechat_mock": {
        "zh": "本地模式：微信为模拟模式，输入任意标识即代表一个微信用户",
        "en": "Local mode: WeChat is mocked; any identifier you enter stands for one WeChat user",
    },
    "wechat_mock_code": {"zh": "模拟的微信用户标识", "en": "Mock WeChat user"},
    "wechat_scan_qr": {
        "zh": "请用微信扫一扫，在手机上确认后本页自动登录",
        "en": "Scan with WeChat and confirm on your phone: this page signs in by itself",
    },
    "ticket_gone": {
        "zh": "二维码已失效，请在电脑上刷新后重新扫描",
        "en": "This QR code expired: refresh the page and scan again",
    },
    "open_in_wechat": {"zh": "请使用微信扫描二维码", "en": "Scan the code with WeChat"},
    "scan_done": {"zh": "扫码成功，请回到电脑上继续", "en": "Done: go back to your computer"},
    "phone": {"zh": "手机号", "en": "Phone number"},
    "email": {"zh": "邮箱", "en": "Email"},
    "sms_code": {"zh": "短信验证码", "en": "Code from the SMS"},
    "email_code": {"zh": "邮箱验证码", "en": "Code from the email"},
    "send_code": {"zh": "发送验证码", "en": "Send code"},
    "register": {"zh": "注册账号", "en": "Create an account"},
    "account": {"zh": "我的账号", "en": "Your account"},
    "profile": {"zh": "个人资料", "en": "Profile"},
    "nickname": {"zh": "昵称", "en": "Nickname"},
    "verified": {"zh": "已验证", "en": "verified"},
    "unverified": {"zh": "未验证", "en": "not verified"},
    "methods": {"zh": "登录方式", "en": "Sign-in methods"},
    "sessions": {"zh": "已登录的应用和设备", "en": "Signed-in apps and devices"},
    "no_sessions": {"zh": "没有已登录的应用", "en": "No app is signed in"},
    "sign_out_this": {"zh": "退出", "en": "Sign out"},
    "sign_out_apps": {"zh": "退出所有应用", "en": "Sign out of every app"},
    "session_ended": {"zh": "已退出该应用", "en": "That app is signed out"},
    "sessions_ended": {"zh": "已退出 {count} 个应用会话", "en": "{count} app session(s) signed out"},
    "change_password": {"zh": "修改密码", "en": "Change the password"},
    "link_methods": {"zh": "绑定与更换", "en": "Link and change"},
    "change_phone": {"zh": "更换手机号", "en": "Change the phone number"},
    "phone_changed": {"zh": "手机号已更换", "en": "Your phone number is changed"},
    "bind_wechat": {"zh": "绑定微信", "en": "Link WeChat"},
    "wechat_bound": {"zh": "微信已绑定", "en": "WeChat is linked"},
    "old_password": {"zh": "当前密码", "en": "Current password"},
    "password_changed": {
        "zh": "密码已修改，所有设备已退出登录，请重新登录",
        "en": "Password changed and every device signed out: sign in again",
    },
    "method_password": {"zh": "密码", "en": "Password"},
    "method_phone": {"zh": "手机号", "en": "Phone"},
    "method_wechat": {"zh": "微信", "en": "WeChat"},
    "register_at": {"zh": "注册 {app} 账号", "en": "Create your account for {app}"},
    "forgot": {"zh": "忘记密码", "en": "Forgot password"},
    "new_username": {"zh": "用户名", "en": "Username"},
    "confirm_password": {"zh": "确认密码", "en": "Confirm the password"},
    "new_password": {"zh": "新密码", "en": "New password"},
    "email_optional": {"zh": "邮箱（选填）", "en": "Email (optional)"},
    "have_account": {"zh": "已有账号？去登录", "en": "Have an account? Sign in"},
    "back_to_sign_in": {"zh": "返回登录", "en": "Back to sign in"},
    "by_phone": {"zh": "通过手机号", "en": "By phone"},
    "by_email": {"zh": "通过邮箱", "en": "By email"},
    "reset": {"zh": "重置密码", "en": "Reset the password"},
    "password_reset_done": {
        "zh": "密码已重置，所有设备已退出登录，请用新密码登录",
        "en": "Your password is reset and every device signed out: sign in with the new one",
    },
    "code_sent": {"zh": "验证码已发送，{minutes} 分钟内有效", "en": "Code sent: it is valid for {minutes} minutes"},
    "no_email_account": {
        "zh": "没有账号使用这个邮箱，请先注册或换一种方式登录",
        "en": "No account uses this email: register first, or sign in another way",
    },
    "bad_credentials": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "locked": {"zh": "尝试次数过多，请 {seconds} 秒后再试", "en": "Too many attempts: try again in {seconds} s"},
    "captcha": {"zh": "图形验证码", "en": "Image code"},
    "form_expired": {
        "zh": "页面已过期或来源不可信，请重新提交",
        "en": "This form expired or came from elsewhere: please submit it again",
    },
    "error_title": {"zh": "无法继续", "en": "Cannot continue"},
    "bad_request": {"zh": "登录请求无效：{detail}", "en": "The sign-in request is invalid: {detail}"},
    "sign_out": {"zh": "退出登录", "en": "Sign out"},
    "sign_out_confirm": {"zh": "确定要退出统一登录吗？", "en": "Sign out of the sign-in center?"},
    "signed_out": {"zh": "您已退出登录", "en": "You are signed out"},
    # second factors (issue 13)
    "mfa_title": {"zh": "两步验证", "en": "Two-step verification"},
    "mfa_code_label": {"zh": "验证器应用中的 6 位动态码", "en": "6-digit code from your authenticator app"},
    "mfa_recovery_label": {"zh": "恢复码（形如 ABCDE-FGHJK）", "en": "Recovery code (like ABCDE-FGHJK)"},
    "mfa_lost_device": {"zh": "手机丢了？使用恢复码", "en": "Lost your device? Use a recovery code"},
    "mfa_use_app": {"zh": "使用验证器应用中的动态码", "en": "Use a code from your authenticator app"},
    "mfa_enrol_title": {"zh": "设置两步验证", "en": "Set up two-step verification"},
    "mfa_enrol_hint": {
        "zh": "此应用要求两步验证：请用验证器应用（如 Google Authenticator、Microsoft Authenticator、"
        "腾讯身份验证器）扫描二维码，然后输入显示的 6 位动态码",
        "en": "This app requires two-step verification: scan the QR code with an authenticator app (Google "
        "Authenticator, Microsoft Authenticator, Tencent Authenticator...), then enter the 6-digit code it shows",
    },
    "mfa_secret": {"zh": "无法扫码？手动输入密钥：", "en": "Cannot scan? Type this key:"},
    "mfa_qr": {"zh": "验证器二维码", "en": "Authenticator QR code"},
    "mfa_expired": {
        "zh": "登录已超时（5 分钟），请重新登录",
        "en": "The sign-in timed out (5 minutes): sign in again",
    },
    "verify": {"zh": "验证", "en": "Verify"},
    "continue": {"zh": "继续", "en": "Continue"},
    "recovery_codes_title": {"zh": "保存恢复码", "en": "Save your recovery codes"},
    "recovery_codes_hint": {
        "zh": "手机丢失时，可用以下恢复码登录，每个只能用一次。请妥善保存，它们只显示这一次",
        "en": "If you lose your device, each of these codes signs you in once. Keep them safe: they are shown only now",
    },
    "totp": {"zh": "两步验证", "en": "Two-step verification"},
    "totp_on": {"zh": "已开启，剩余 {count} 个恢复码", "en": "On, with {count} recovery codes left"},
    "totp_off": {"zh": "未开启", "en": "Off"},
    "totp_setup": {"zh": "开启两步验证", "en": "Turn on two-step verification"},
    "totp_setup_hint": {
        "zh": "用验证器应用扫描二维码，然后输入显示的 6 位动态码",
        "en": "Scan the QR code with an authenticator app, then enter the 6-digit code it shows",
    },
    "totp_enabled": {"zh": "两步验证已开启", "en": "Two-step verification is on"},
    "totp_disable": {"zh": "关闭两步验证", "en": "Turn off two-step verification"},
    "totp_disabled": {"zh": "两步验证已关闭", "en": "Two-step verification is off"},
    "recovery_new": {"zh": "生成新的恢复码", "en": "New recovery codes"},
    "current_code": {"zh": "当前动态码或恢复码", "en": "Current code or a recovery code"},
    # passkeys (issue 13)
    "passkey_sign_in": {"zh": "使用通行密钥登录", "en": "Sign in with a passkey"},
    "passkey_prompt_title": {"zh": "下次登录更快", "en": "Sign in faster next time"},
    "passkey_prompt_text": {
        "zh": "创建通行密钥后，下次只需指纹、面容或设备密码即可登录，无需密码和验证码",
        "en": "With a passkey, next time you sign in with your fingerprint, face or device PIN: no password, no code",
    },
    "passkey_add": {"zh": "创建通行密钥", "en": "Create a passkey"},
    "passkey_not_now": {"zh": "以后再说", "en": "Not now"},
    "passkeys": {"zh": "通行密钥", "en": "Passkeys"},
    "passkey_none": {"zh": "还没有通行密钥", "en": "No passkey yet"},
    "passkey_remove": {"zh": "删除", "en": "Remove"},
    "passkey_removed": {"zh": "通行密钥已删除", "en": "The passkey is removed"},
    "passkey_synced": {"zh": "已同步", "en": "synced"},
    "passkey_failed": {"zh": "通行密钥操作未完成，请重试", "en": "The passkey step did not finish: try again"},
    "passkey_webview": {
        "zh": "当前应用内浏览器不支持通行密钥，请使用微信或短信验证码登录",
        "en": "This in-app browser cannot use passkeys: sign in with WeChat or an SMS code",
    },
    "passkey_created": {"zh": "创建于", "en": "created"},
    "passkey_used": {"zh": "上次使用", "en": "last used"},
}


def text(key: str, lang: str, **values: Any) -> str:
    message = MESSAGES[key]["en" if lang == "en" else "zh"]
    return message.format(**values) if values else message


def language(ui_locales: str | None, accept_language: str | None) -> str:
    """``zh`` or ``en``: the request's ``ui_locales`` first (the page's switch sets it), then the
    browser's ``Accept-Language``; Chinese otherwise."""
    for tag in (ui_locales or "").split():
        if tag[:2].lower() in LANGUAGES:
            return tag[:2].lower()
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip()[:2].lower()
        if tag in LANGUAGES:
            return tag
    return "zh"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True), auto_reload=False
    )
    env.globals["t"] = text
    return env


def render(template: str, lang: str, **context: Any) -> str:
    return environment().get_template(template).render(lang=lang, **context)


def security_headers(form_targets: list[str] | None = None, frames: list[str] | None = None) -> dict[str, str]:
    """Headers of every page: a Content-Security-Policy without ``unsafe-inline`` (scripts and styles
    only from the center's own static files), no framing, no sniffing, no referrer, no caching.
    ``form_targets``: the origins a form may end up at (a sign-in form's answer redirects to the
    client, and browsers apply ``form-action`` to the redirect); ``frames``: origins the page may frame
    (WeChat's QR page)."""
    targets = " ".join(dict.fromkeys(o for o in (url_origin(u) for u in form_targets or []) if o))
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"form-action 'self'{' ' + targets if targets else ''}; frame-ancestors 'none'; base-uri 'none'"
    )
    if frames:
        policy += "; frame-src " + " ".join(frames)
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",  # not no-referrer: with it, browsers send "Origin: null" on form posts
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Strict-Transport-Security": "max-age=31536000",
    }
