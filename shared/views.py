"""What the API answers: the JSON shapes of API.md as response models, built from domain objects.

Views live at the HTTP edge. Services return domain records (``User``, ``UserRecord``, ``Role``,
``AppConfig`` ...); a route turns them into one of these models, and declares it with
``http.answers``, so the OpenAPI document describes what comes back and schemathesis checks every
answer against it. Extra keys are allowed where API.md lets a record carry free-form fields (menus).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.clock import iso
from shared.db.departments import Department
from shared.db.menus import Menu
from shared.db.passkeys import Passkey
from shared.domain import Account, AppConfig, Page, RoleGrant, Session, User, UserRecord
from shared.domain import Role as RoleRecord
from shared.services.sessions import TokenPair, authorization_of

if TYPE_CHECKING:
    from shared.services.accounts import SignedIn


def page_fields(page: Page[Any]) -> dict[str, Any]:
    """A page's position fields, for the page models."""
    return {"page": page.page, "page_size": page.page_size, "total": page.total, "next_cursor": page.next_cursor}


class View(BaseModel):
    """A response model: what a route answers inside the envelope's ``data``."""

    model_config = ConfigDict(frozen=True)


# -- users ---------------------------------------------------------------------------------------------
class RoleRef(View):
    """A role a user holds, named in its app."""

    role_id: str = Field(description="`<app_name>:<role_code>`")
    role_code: str
    role_name: str
    app_name: str

    @classmethod
    def of(cls, grant: RoleGrant) -> RoleRef:
        return cls(role_id=grant.role_id, role_code=grant.role_code, role_name=grant.role_name, app_name=grant.app_name)


class LinkedAccount(View):
    """A WeChat identity linked to the user (API.md section 6)."""

    provider: str
    type: str | None
    app_id: str | None
    open_id: str
    nickname: str | None
    avatar_url: str | None
    created_at: str

    @classmethod
    def of(cls, account: Account) -> LinkedAccount:
        return cls(
            provider=account.provider,
            type=account.account_type,
            app_id=account.app_id,
            open_id=account.open_id,
            nickname=account.nickname,
            avatar_url=account.avatar_url,
            created_at=iso(account.created_at),
        )


class Profile(View):
    """The public profile of a user (never a password hash)."""

    user_id: str
    username: str | None
    nickname: str | None
    real_name: str | None
    email: str | None
    phone: str | None
    avatar: str | None
    gender: str | None
    birthday: str | None
    union_id: str | None
    referer_id: str | None
    department_id: str | None
    status: str = Field(description="`active` or `disabled`")
    created_at: str
    last_login_at: str | None

    @classmethod
    def fields_of(cls, user: User) -> dict[str, Any]:
        return {
            "user_id": user.user_id,
            "username": user.username,
            "nickname": user.nickname,
            "real_name": user.real_name,
            "email": user.email,
            "phone": user.phone,
            "avatar": user.avatar,
            "gender": user.gender,
            "birthday": user.birthday,
            "union_id": user.union_id,
            "referer_id": user.referer_id,
            "department_id": user.department_id,
            "status": user.status,
            "created_at": iso(user.created_at),
            "last_login_at": iso(user.last_login_at) if user.last_login_at else None,
        }

    @classmethod
    def of(cls, user: User) -> Profile:
        return cls(**cls.fields_of(user))


class UserInfo(Profile):
    """``user_info`` of API.md section 2: the user as seen from one app (its roles and permissions only)."""

    app_name: str
    roles: list[RoleRef]
    permissions: list[str]
    accounts: list[LinkedAccount]

    @classmethod
    def info_fields(cls, record: UserRecord, app_name: str) -> dict[str, Any]:
        grants = record.grants_in(app_name)
        _, permissions = authorization_of(grants)
        return {
            **Profile.fields_of(record.user),
            "app_name": app_name,
            "roles": [RoleRef.of(g) for g in sorted(grants, key=lambda g: g.role_code)],
            "permissions": permissions,
            "accounts": [LinkedAccount.of(a) for a in record.accounts],
        }

    @classmethod
    def of_record(cls, record: UserRecord, app_name: str) -> UserInfo:
        return cls(**cls.info_fields(record, app_name))


class AdminUser(UserInfo):
    """A user as an admin sees them: ``user_info`` of the admin's app, every role they may see, and
    whether a password is set."""

    all_roles: list[RoleRef]
    has_password: bool

    @classmethod
    def of_record(cls, record: UserRecord, app_name: str, every_app: bool = True) -> AdminUser:
        grants = sorted(record.grants, key=lambda g: (g.app_name, g.role_code))
        visible = [g for g in grants if every_app or g.app_name == app_name]
        return cls(
            **cls.info_fields(record, app_name),
            all_roles=[RoleRef.of(g) for g in visible],
            has_password=bool(record.user.password_hash),
        )


class CenterUserInfo(UserInfo):
    """``user_info`` with the account-center clients' names beside it (API.md section 5)."""

    userId: str
    unionId: str | None
    phoneNumber: str | None
    profile: dict[str, str | None]

    @classmethod
    def of_record(cls, record: UserRecord, app_name: str) -> CenterUserInfo:
        user = record.user
        return cls(
            **cls.info_fields(record, app_name),
            userId=user.user_id,
            unionId=user.union_id,
            phoneNumber=user.phone,
            profile={"nickname": user.nickname, "avatar": user.avatar},
        )


class PageView(View):
    """Where a page is in its list: ``next_cursor`` continues it (``null`` on the last page); ``page`` is
    set when the page was asked by number, ``total`` when the list was counted."""

    page: int | None
    page_size: int
    total: int | None = None
    next_cursor: str | None


class ProfilePage(PageView):
    """A page of the user directory."""

    items: list[Profile]

    @classmethod
    def of(cls, page: Page[User]) -> ProfilePage:
        return cls(items=[Profile.of(u) for u in page.items], **page_fields(page))


# -- sign-in -------------------------------------------------------------------------------------------
class Tokens(View):
    """An access token (a JWT, RFC 9068 style) and its refresh token (opaque, rotating)."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="seconds until the access token expires")

    @classmethod
    def of(cls, pair: TokenPair) -> Tokens:
        return cls(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


class SignIn(Tokens):
    """A sign-in's answer: the tokens and ``user_info`` in the token's app."""

    user_info: UserInfo

    @classmethod
    def of_result(cls, result: SignedIn, **extra: Any) -> Self:
        """The answer to a sign-in (``extra``: the fields a subclass adds)."""
        tokens = Tokens.of(result.tokens).model_dump()
        return cls(**tokens, user_info=UserInfo.of_record(result.record, result.app_name), **extra)


class Revoked(View):
    revoked: int = Field(description="how many sessions ended")


class SessionView(View):
    """One live sign-in of the caller."""

    session_id: str
    app_name: str
    created_at: str
    last_used_at: str
    expires_at: str
    ip: str | None
    user_agent: str | None
    current: bool

    @classmethod
    def of(cls, session: Session, current_session_id: str | None) -> SessionView:
        return cls(
            session_id=session.session_id,
            app_name=session.app_name,
            created_at=iso(session.created_at),
            last_used_at=iso(session.last_used_at),
            expires_at=iso(session.effective_expiry()),
            ip=session.ip,
            user_agent=session.user_agent,
            current=session.session_id == current_session_id,
        )


class SessionList(View):
    items: list[SessionView]


class TokenCheck(View):
    """verify-token: the token is good; who it names and what the session grants now."""

    valid: Literal[True] = True
    user_id: str
    userId: str
    session_id: str
    app_name: str
    roles: list[str]
    permissions: list[str]
    exp: int


# -- roles, apps, menus, departments -------------------------------------------------------------------
class RoleView(View):
    role_id: str
    app_name: str
    role_code: str
    role_name: str
    permissions: list[str]
    menu_ids: list[str]
    status: str
    epoch: str
    user_count: int | None = Field(default=None, description="holders, in role lists")

    @classmethod
    def of(cls, role: RoleRecord, members: int | None = None) -> RoleView:
        return cls(**asdict(role), user_count=members)


class RolePage(PageView):
    """A page of an app's roles (counted: ``total`` is always set)."""

    items: list[RoleView]
    total: int | None

    @classmethod
    def of(cls, page: Page[RoleRecord]) -> RolePage:
        return cls(items=[RoleView.of(r) for r in page.items], **page_fields(page))


class AppView(View):
    """An app's settings; WeChat secrets are never answered, nor the client secret's hash. A client secret
    is answered once, in the response of the change that issued it (``client_secret``)."""

    app_name: str
    display_name: str | None
    default_role: str | None
    allowed_callback_origins: list[str]
    require_captcha: bool
    require_email_verification: bool
    require_phone_verification: bool
    require_mfa: str
    wechat: dict[str, Any]
    client_id: str
    client_type: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    has_client_secret: bool
    client_secret: str | None = None

    @classmethod
    def of(cls, app: AppConfig) -> AppView:
        data = asdict(app)
        data["wechat"] = {k: v for k, v in (app.wechat or {}).items() if "secret" not in k.lower()}
        data["client_id"] = app.app_name
        data["has_client_secret"] = bool(app.client_secret_hash)
        data["client_secret"] = data.pop("issued_client_secret")
        del data["client_secret_hash"]
        return cls(**data)


class AppList(View):
    items: list[AppView]


class MenuView(View):
    """A menu (page, directory or button) of an app; free-form fields a console stores come back too."""

    model_config = ConfigDict(frozen=True, extra="allow")

    menu_id: str
    app_name: str
    menu_name: str
    parent_id: str | None
    menu_code: str | None
    menu_type: int = Field(description="1 directory, 2 page, 3 button")
    path: str | None
    permission: str | None
    sort: int
    status: str

    @classmethod
    def fields_of(cls, menu: Menu) -> dict[str, Any]:
        data = asdict(menu)
        data.update(data.pop("extra") or {})
        return data

    @classmethod
    def of(cls, menu: Menu) -> MenuView:
        return cls(**cls.fields_of(menu))


class MenuNode(MenuView):
    children: list[MenuNode]

    @classmethod
    def tree(cls, menus: list[Menu]) -> list[MenuNode]:
        """The menus nested by ``parent_id`` (a menu whose parent is not in the list is a root)."""
        return nest(menus, lambda m: m.menu_id, lambda m, kids: cls(**cls.fields_of(m), children=kids))


class MenuList(View):
    items: list[MenuView]


class RoleMenus(View):
    role_id: str
    menu_ids: list[str]


class DepartmentView(View):
    dept_id: str
    dept_name: str
    parent_id: str | None
    sort: int
    leader: str | None
    status: str

    @classmethod
    def of(cls, dept: Department) -> DepartmentView:
        return cls(**asdict(dept))


class DepartmentNode(DepartmentView):
    children: list[DepartmentNode]

    @classmethod
    def tree(cls, depts: list[Department]) -> list[DepartmentNode]:
        """The departments nested by ``parent_id``."""
        return nest(depts, lambda d: d.dept_id, lambda d, kids: cls(**asdict(d), children=kids))


class DepartmentList(View):
    items: list[DepartmentView]


N = TypeVar("N", Menu, Department)
V = TypeVar("V")


def nest(items: list[N], key: Callable[[N], str], node: Callable[[N, list[V]], V]) -> list[V]:
    """Build a tree from ``items`` ordered by sort then id (each level keeps that order); an item whose
    parent is not among them is a root. Cycles cannot occur: the services refuse them."""
    ids = {key(item) for item in items}
    children: dict[str | None, list[N]] = {}
    for item in items:
        parent = item.parent_id if item.parent_id in ids else None
        children.setdefault(parent, []).append(item)

    def build(parent: str | None) -> list[V]:
        return [node(item, build(key(item))) for item in children.get(parent, [])]

    return build(None)


class Deleted(View):
    deleted: Literal[True] = True


class RoleDeleted(Deleted):
    was_in_use: bool = Field(description="the role was held (deleted with `force`)")


# -- grants --------------------------------------------------------------------------------------------
class RoleAssigned(View):
    status: Literal[True] = True
    message: str
    role_id: str


class RoleHeld(View):
    status: Literal[True] = True


class RolesRemoved(View):
    removed: int = Field(description="how many of the roles the user held")


class RoleSet(View):
    """A user's roles in one app, after they were replaced."""

    user_id: str
    app_name: str
    roles: list[RoleRef]


# -- codes, captcha, WeChat ----------------------------------------------------------------------------
class CodeSent(View):
    """A code is on its way."""

    code_type: str
    expires_in: int = Field(description="seconds the code stays valid")
    resend_after: int = Field(description="seconds before another code may be sent to the same target")


class SmsCodeSent(CodeSent):
    phone: str = Field(description="the number in E.164")


class EmailCodeSent(CodeSent):
    email: str


class CompatCodeSent(SmsCodeSent):
    message: str


class Captcha(View):
    captcha_key: str
    image: str = Field(description="a PNG as a data: URL")


class QrCode(View):
    qr_code_url: str
    state: str


class Invitee(View):
    user_id: str
    nickname: str | None
    created_at: str

    @classmethod
    def of(cls, user: User) -> Invitee:
        return cls(user_id=user.user_id, nickname=user.nickname, created_at=iso(user.created_at))


class InviteeList(View):
    items: list[Invitee]
    total: int


class SignInOrUp(SignIn):
    """A sign-in that registers a new user when needed: ``created`` says which happened."""

    created: bool


class CenterSignIn(SignIn):
    """The account-center clients' sign-in: the access token again as ``token``, and ``userId``."""

    token: str
    userId: str


class SimpleUser(View):
    """The simple REST clients' user (API.md section 5)."""

    id: str
    user_id: str
    username: str | None
    email: str | None
    phone: str | None
    status: str
    created_at: str

    @classmethod
    def fields_of(cls, user: User) -> dict[str, Any]:
        return {
            "id": user.user_id,
            "user_id": user.user_id,
            "username": user.username,
            "email": user.email,
            "phone": user.phone,
            "status": user.status,
            "created_at": iso(user.created_at),
        }

    @classmethod
    def of(cls, user: User) -> SimpleUser:
        return cls(**cls.fields_of(user))


class SimpleMember(SimpleUser):
    """A simple REST client's user with their role codes in the token's app."""

    roles: list[str]

    @classmethod
    def of_record(cls, record: UserRecord, app_name: str) -> SimpleMember:
        roles = sorted(g.role_code for g in record.grants_in(app_name))
        return cls(**cls.fields_of(record.user), roles=roles)


class SimpleSignIn(View):
    token: str
    refresh_token: str
    user: SimpleMember


class Message(View):
    revoked: int
    message: str


# -- second factors (API.md section 12) -------------------------------------------------------------------
class MfaChallenge(View):
    """A sign-in whose second factor is due: no tokens yet. ``methods``: ``totp``, ``recovery_code``, or
    ``enroll`` (the app requires a second factor the user has not set up: ``/api/auth/mfa/enroll/``)."""

    mfa_required: Literal[True] = True
    mfa_token: str = Field(description="finishes this sign-in at /api/auth/mfa/verify/; single use, 5 minutes")
    methods: list[str]


class TotpSetupView(View):
    secret: str = Field(description="base32, for typing in; the same as in otpauth_uri")
    otpauth_uri: str = Field(description="show it as a QR code for authenticator apps")


class RecoveryCodes(View):
    recovery_codes: list[str] = Field(description="ten one-time codes; shown this once, stored hashed")


class MfaStatus(View):
    totp: bool
    recovery_codes_left: int


class MfaSignIn(SignIn):
    """A sign-in finished by its second factor; ``recovery_codes`` when it also turned TOTP on."""

    recovery_codes: list[str] | None = None


class MfaReset(View):
    reset: bool = Field(description="false when the user had no second factor")


# -- passkeys (API.md section 12) -------------------------------------------------------------------------
class WebAuthnOptions(View):
    """Options for ``navigator.credentials.create`` / ``.get`` in the WebAuthn JSON form (pass
    ``publicKey`` to ``PublicKeyCredential.parseCreationOptionsFromJSON`` / ``parseRequestOptionsFromJSON``);
    ``challenge_id`` (sign-in) goes back with the answer."""

    publicKey: dict[str, Any]  # the WebAuthn name
    challenge_id: str | None = None


class PasskeyView(View):
    passkey_id: str = Field(description="the credential id, base64url")
    name: str | None
    created_at: str
    last_used_at: str | None
    backup_eligible: bool = Field(description="a multi-device (synced) passkey")
    backed_up: bool
    transports: list[str]

    @classmethod
    def of(cls, passkey: Passkey) -> PasskeyView:
        return cls(
            passkey_id=passkey.credential_id,
            name=passkey.name,
            created_at=iso(passkey.created_at),
            last_used_at=iso(passkey.last_used_at) if passkey.last_used_at is not None else None,
            backup_eligible=passkey.backup_eligible,
            backed_up=passkey.backed_up,
            transports=passkey.transports,
        )


class PasskeyList(View):
    items: list[PasskeyView]


class Done(View):
    done: Literal[True] = True


class ImportRowResult(View):
    external_id: str
    status: Literal["created", "merged", "unchanged", "conflict", "invalid"]
    user_id: str | None = None
    reason: str | None = None
    fields: dict[str, list[str]] | None = None


class ImportAnswer(View):
    """One result per row, in order, and how many of each."""

    results: list[ImportRowResult]
    counts: dict[str, int]
    dry_run: bool


class ExportPage(View):
    """Users as import rows (``password_hash`` included), and the cursor of the next page (None: the last)."""

    items: list[dict[str, Any]]
    next_cursor: str | None
