"""Request bodies of the HTTP contract (API.md section 4), validated with Pydantic.

Unknown fields are ignored. Identifiers sent as numbers by older clients are accepted as strings.
Length caps stop oversized values before they reach bcrypt or DynamoDB; numbers have bounds (a
``sort`` of 10**40 would not fit DynamoDB's 38 digits); URL fields refuse control characters (CR LF
in a URL that ends up in a ``Location`` header would split the response).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from shared.errors import ValidationError
from shared.urls import has_control_chars, parse_origin, parse_redirect_uri


def _stringify(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _redirect_uri(value: str) -> str:
    """Refuse what cannot be a redirect URI here (``shared.urls.parse_redirect_uri``), with the other fields."""
    try:
        return parse_redirect_uri(value)
    except ValidationError as exc:
        raise ValueError("not a redirect URI (https, http on loopback, or com.example.app:/path)") from exc


def _boolish(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
    return value


def _no_control_chars(value: str) -> str:
    if has_control_chars(value):
        raise ValueError("control characters (CR, LF, TAB, ...) are not allowed")
    return value


def _origin(value: str) -> str:
    """Refuse what is not an http(s) origin here, so the 422 lists it beside every other bad field."""
    try:
        parse_origin(value)
    except ValidationError as exc:
        raise ValueError("not an origin (scheme://host[:port])") from exc
    return value


IdStr = Annotated[str, BeforeValidator(_stringify), Field(max_length=128)]
Text = Annotated[str, Field(max_length=256)]
Secret = Annotated[str, Field(min_length=1, max_length=1024)]
Flag = Annotated[bool, BeforeValidator(_boolish)]
# Any URL (or URL path) a client or admin sends: no control characters, whatever else it may hold.
Url = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_no_control_chars)]
UrlPath = Annotated[str, Field(max_length=256), AfterValidator(_no_control_chars)]
Origin = Annotated[str, Field(max_length=256), AfterValidator(_origin)]
RedirectUri = Annotated[str, Field(max_length=512), AfterValidator(_redirect_uri)]
# Orders (``sort``) and small enumerations: well inside DynamoDB's 38 digits and JSON's safe integers.
SortKey = Annotated[int, Field(ge=-(10**9), le=10**9)]


class Body(BaseModel):
    """A request body, and the typed command a service takes. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    def changes(self) -> dict[str, Any]:
        """The fields the request sent (a field sent as ``null`` is a change to nothing)."""
        return self.model_dump(exclude_unset=True)


class RegisterBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Secret
    confirm_password: Secret | None = None
    email: Text | None = None
    phone: Annotated[str, BeforeValidator(_stringify), Field(max_length=32)] | None = None
    nickname: Annotated[str, Field(max_length=64)] | None = None
    real_name: Annotated[str, Field(max_length=64)] | None = None
    email_code: Annotated[str, BeforeValidator(_stringify), Field(max_length=16)] | None = None
    sms_code: Annotated[str, BeforeValidator(_stringify), Field(max_length=16)] | None = None
    referer_id: IdStr | None = None
    app_name: Annotated[str, Field(max_length=64)] | None = None


class LoginBody(Body):
    username: Annotated[str, BeforeValidator(_stringify), Field(min_length=1, max_length=254)]
    password: Secret
    app_name: Annotated[str, Field(max_length=64)] | None = None
    captcha_key: Text | None = None
    captcha_code: Annotated[str, Field(max_length=16)] | None = None


class RefreshBody(Body):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class LogoutBody(Body):
    all: Flag = False


class VerifyTokenBody(Body):
    token: Annotated[str, Field(max_length=4096)] | None = None
    access_token: Annotated[str, Field(max_length=4096)] | None = None


class ProfileUpdateBody(Body):
    nickname: Annotated[str, Field(max_length=64)] | None = None
    real_name: Annotated[str, Field(max_length=64)] | None = None
    email: Text | None = None
    avatar: Annotated[str, Field(max_length=1024), AfterValidator(_no_control_chars)] | None = None
    gender: Annotated[str, BeforeValidator(_stringify), Field(max_length=16)] | None = None
    birthday: Annotated[str, Field(max_length=32)] | None = None
    email_code: Code | None = None  # a ``bind`` code sent to the new email (API.md section 4)


class PasswordChangeBody(Body):
    old_password: Secret
    new_password: Secret
    confirm_password: Secret | None = None


class TokenGrantBody(Body):
    """OAuth2 token endpoint (RFC 6749 section 4.3 and 6)."""

    grant_type: Annotated[str, Field(max_length=64)]
    username: Annotated[str, Field(max_length=254)] | None = None
    password: Annotated[str, Field(max_length=1024)] | None = None
    refresh_token: Annotated[str, Field(max_length=512)] | None = None
    scope: Annotated[str, Field(max_length=512)] | None = None
    app_name: Annotated[str, Field(max_length=64)] | None = None


AppName = Annotated[str, Field(max_length=64)]
RoleCode = Annotated[str, Field(min_length=1, max_length=64)]


class AssignRoleBody(Body):
    """svc_user_auth_zxw clients: ``role_name`` there means the role code."""

    user_id: IdStr
    role_name: RoleCode
    app_name: AppName | None = None


class RoleAuthBody(Body):
    role_name: RoleCode
    app_name: AppName | None = None


class RemoveRolesBody(Body):
    user_id: IdStr
    role_names: Annotated[list[RoleCode], Field(max_length=50)] | None = None
    role_name: RoleCode | None = None
    app_name: AppName | None = None

    def codes(self) -> list[str]:
        """The role codes to remove (``role_names`` and ``role_name`` together).

        Raises:
            ValidationError: neither was given.
        """
        codes = list(self.role_names or []) + ([self.role_name] if self.role_name else [])
        if not codes:
            raise ValidationError({"role_names": ["give role_names or role_name"]})
        return codes


class AssignRolesBody(Body):
    user_id: IdStr
    role_ids: Annotated[list[Annotated[str, Field(max_length=130)]], Field(max_length=50)] | None = None
    role_codes: Annotated[list[RoleCode], Field(max_length=50)] | None = None
    app_name: AppName | None = None

    def target(self) -> tuple[str | None, list[str]]:
        """The app (None: the token's) and the role codes: from ``role_ids`` (``<app>:<code>``, all of
        one app), or ``role_codes`` with ``app_name``.

        Raises:
            ValidationError: neither was given, or the ids are malformed or name several apps.
        """
        if self.role_ids is not None:
            pairs = [role_id.partition(":") for role_id in self.role_ids]
            apps = {a for a, sep, _ in pairs if sep}
            if len(apps) > 1 or any(not sep for _, sep, _ in pairs):
                raise ValidationError({"role_ids": ["role ids of one app, as returned by the role routes"]})
            return (apps.pop() if apps else self.app_name), [code for _, _, code in pairs]
        if self.role_codes is not None:
            return self.app_name, list(self.role_codes)
        raise ValidationError({"role_ids": ["give role_ids, or role_codes with app_name"]})


class WechatAppIds(Body):
    web_app_id: Annotated[str, Field(max_length=64)] | None = None
    mp_app_id: Annotated[str, Field(max_length=64)] | None = None
    miniapp_app_id: Annotated[str, Field(max_length=64)] | None = None
    app_app_id: Annotated[str, Field(max_length=64)] | None = None


class AppBody(Body):
    app_name: AppName | None = None
    display_name: Annotated[str, Field(max_length=128)] | None = None
    default_role: RoleCode | None = None
    allowed_callback_origins: Annotated[list[Origin], Field(max_length=50)] | None = None
    require_captcha: Flag | None = None
    require_email_verification: Flag | None = None
    require_phone_verification: Flag | None = None
    # Who must pass a second factor to sign in: nobody, holders of any system:* permission here, everyone.
    require_mfa: Literal["none", "admins", "all"] | None = None
    wechat: WechatAppIds | None = None
    # The app as a client of the sign-in center (issue 11): redirect URIs are matched exactly.
    redirect_uris: Annotated[list[RedirectUri], Field(max_length=20)] | None = None
    post_logout_redirect_uris: Annotated[list[RedirectUri], Field(max_length=20)] | None = None
    backchannel_logout_uri: RedirectUri | None = None
    client_type: Literal["public", "confidential"] | None = None
    rotate_client_secret: Flag | None = None  # a confidential client's new secret, answered once


Phone = Annotated[str, BeforeValidator(_stringify), Field(min_length=1, max_length=32)]
Code = Annotated[str, BeforeValidator(_stringify), Field(min_length=1, max_length=16)]


class CaptchaFields(Body):
    """A captcha the request may carry (``GET /api/auth/captcha/``): asked for when a 429 says
    ``captcha_required`` (a code request from an IP past its hourly share)."""

    captcha_key: Text | None = None
    captcha_code: Annotated[str, Field(max_length=16)] | None = None


class SmsCodeBody(CaptchaFields):
    phone: Phone
    code_type: Annotated[str, Field(max_length=32)] = "login"


class EmailCodeBody(CaptchaFields):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    code_type: Annotated[str, Field(max_length=32)]


class PhoneLoginBody(Body):
    phone: Phone
    sms_code: Code
    referer_id: IdStr | None = None
    app_name: AppName | None = None


class PhoneChangeBody(Body):
    new_phone: Phone
    sms_code: Code


class PasswordResetBody(Body):
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Phone | None = None
    code: Code
    new_password: Secret
    confirm_password: Secret | None = None

    def target(self) -> tuple[str, str]:
        """The channel (``email`` or ``sms``) and the address the code was sent to.

        Raises:
            ValidationError: both or neither of ``email`` and ``phone`` were given.
        """
        if bool(self.email) == bool(self.phone):
            raise ValidationError({"email": ["give either email or phone"], "phone": ["give either email or phone"]})
        return ("email", str(self.email)) if self.email else ("sms", str(self.phone))


class WechatCodeBody(Body):
    code: Annotated[str, Field(min_length=1, max_length=256)]
    state: Annotated[str, Field(max_length=64)] | None = None
    app_name: AppName | None = None


class WechatBindBody(Body):
    code: Annotated[str, Field(min_length=1, max_length=256)]
    type: Annotated[str, Field(max_length=16)] = "web"


class WechatQrBody(Body):
    redirect_uri: Url
    app_name: AppName | None = None


class CompatWechatQrBody(Body):
    """svc_user_auth_zxw clients' QR request: ``WECHAT_REDIRECT_URI`` (or ``redirect_uri``)."""

    WECHAT_REDIRECT_URI: Url | None = None
    redirect_uri: Url | None = None
    app_name: AppName | None = None

    def redirect(self) -> str:
        """Raises: ValidationError: neither name was given."""
        if not (self.WECHAT_REDIRECT_URI or self.redirect_uri):
            raise ValidationError({"WECHAT_REDIRECT_URI": ["required"]})
        return str(self.WECHAT_REDIRECT_URI or self.redirect_uri)


class AdminUserUpdateBody(Body):
    nickname: Annotated[str, Field(max_length=64)] | None = None
    real_name: Annotated[str, Field(max_length=64)] | None = None
    email: Text | None = None
    phone: Phone | None = None
    avatar: Annotated[str, Field(max_length=1024), AfterValidator(_no_control_chars)] | None = None
    gender: Annotated[str, BeforeValidator(_stringify), Field(max_length=16)] | None = None
    birthday: Annotated[str, Field(max_length=32)] | None = None
    department_id: IdStr | None = None
    # Refused here, with every other bad field, before the service writes anything (a valid password
    # beside a bad status must not be set and then answered with a 422).
    status: Literal["active", "disabled"] | None = None
    password: Secret | None = None


class CenterLoginBody(Body):
    """Account-center business systems: ``phoneNumber`` (or ``username``) and ``password``."""

    phoneNumber: Phone | None = None
    username: Annotated[str, Field(max_length=254)] | None = None
    password: Secret
    app_name: AppName | None = None

    def identifier(self) -> str:
        """Raises: ValidationError: neither ``phoneNumber`` nor ``username`` was given."""
        if not (self.phoneNumber or self.username):
            raise ValidationError({"phoneNumber": ["required"]})
        return str(self.phoneNumber or self.username)


class SimpleRegisterBody(Body):
    """The simple REST clients' sign-up: every field required, password of 6+ characters."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=6, max_length=1024)]
    phone: Phone


PermissionList = Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=500)]
IdList = Annotated[list[IdStr], Field(max_length=500)]


class RoleBody(Body):
    app_name: AppName | None = None
    role_code: RoleCode | None = None
    role_name: Annotated[str, Field(max_length=64)] | None = None
    permissions: PermissionList | None = None
    menu_ids: IdList | None = None
    status: Annotated[str, Field(max_length=16)] | None = None


class AssignMenusBody(Body):
    role_id: Annotated[str, Field(min_length=3, max_length=130)]
    menu_ids: IdList


class MenuBody(Body):
    app_name: AppName | None = None
    menu_name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    parent_id: IdStr | None = None
    menu_code: Annotated[str, Field(max_length=128)] | None = None
    menu_type: Annotated[int, Field(ge=1, le=3)] | None = None  # 1 directory, 2 page, 3 button
    path: UrlPath | None = None
    permission: Annotated[str, Field(max_length=128)] | None = None
    sort: SortKey | None = None
    status: Annotated[str, Field(max_length=16)] | None = None
    component: UrlPath | None = None
    icon: Annotated[str, Field(max_length=128)] | None = None
    redirect: UrlPath | None = None
    hidden: Flag | None = None
    title: Annotated[str, Field(max_length=64)] | None = None


class DepartmentBody(Body):
    dept_name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    parent_id: IdStr | None = None
    sort: SortKey | None = None
    leader: Annotated[str, Field(max_length=64)] | None = None
    status: Annotated[str, Field(max_length=16)] | None = None


class AdminUserCreateBody(AdminUserUpdateBody):
    username: Annotated[str, Field(min_length=1, max_length=64)]


# -- second factors (API.md section 12) -------------------------------------------------------------------
MfaCode = Annotated[str, BeforeValidator(_stringify), Field(min_length=1, max_length=32)]
MfaToken = Annotated[str, Field(min_length=1, max_length=128)]


class MfaCodeBody(Body):
    """A current TOTP code (6 digits) or one of the recovery codes."""

    code: MfaCode


class MfaTokenBody(Body):
    mfa_token: MfaToken


class MfaVerifyBody(Body):
    mfa_token: MfaToken
    code: MfaCode


# -- passkeys (API.md section 12) -------------------------------------------------------------------------
class PasskeyRegisterBody(Body):
    """``credential``: what ``navigator.credentials.create`` answered, in the WebAuthn JSON form
    (``PublicKeyCredential.toJSON()``)."""

    credential: dict[str, Any]
    name: Annotated[str, Field(max_length=64)] | None = None


class PasskeyOptionsBody(Body):
    app_name: AppName | None = None


class PasskeyLoginBody(Body):
    challenge_id: Annotated[str, Field(min_length=16, max_length=128)]
    credential: dict[str, Any]
    app_name: AppName | None = None


# -- moving users in (API.md section 13) ----------------------------------------------------------------
class ImportWechat(Body):
    """One WeChat login identity of an imported person."""

    app_id: Annotated[str, Field(min_length=1, max_length=64)]
    type: Literal["web", "mp", "miniapp", "app"] = "miniapp"
    open_id: Annotated[str, Field(min_length=1, max_length=128)]
    union_id: Annotated[str, Field(max_length=128)] | None = None
    nickname: Annotated[str, Field(max_length=64)] | None = None


class ImportRow(Body):
    """One person of a replaced system. ``external_id`` (``<system>:<id>``) makes re-sending it a no-op;
    ``user_id`` keeps the id of an export of this service (a round trip)."""

    external_id: Annotated[str, Field(min_length=3, max_length=160, pattern=r"^[A-Za-z0-9_.-]+:.+$")]
    user_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    username: Annotated[str, Field(max_length=64)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    email_verified: bool = False
    phone_verified: bool = False
    nickname: Annotated[str, Field(max_length=64)] | None = None
    real_name: Annotated[str, Field(max_length=64)] | None = None
    avatar: Annotated[str, Field(max_length=1024)] | None = None
    gender: Annotated[str, Field(max_length=16)] | None = None
    birthday: Annotated[str, Field(max_length=32)] | None = None
    status: Literal["active", "disabled"] = "active"
    department_id: Annotated[str, Field(max_length=64)] | None = None
    created_at: float | None = None
    password_hash: Annotated[str, Field(max_length=512)] | None = None
    password_native: bool = False  # a hash this service exported (bcrypt that never cut a password)
    wechat: Annotated[list[ImportWechat], Field(max_length=20)] = []
    # An export of this service: every external id the person had, and its other sign-in methods
    external_ids: Annotated[list[Annotated[str, Field(max_length=160)]], Field(max_length=50)] = []
    methods: Annotated[list[Literal["password", "phone"]], Field(max_length=2)] = []
    roles: dict[AppName, Annotated[list[RoleCode], Field(max_length=50)]] = {}


class ImportBody(Body):
    """Each row is checked on its own (a bad row is answered ``invalid`` with its fields; the others go on)."""

    rows: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=1000)]
    on_match: Literal["merge", "conflict"] = "merge"
    dry_run: Flag = False
