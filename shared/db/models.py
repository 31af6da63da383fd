"""PynamoDB models of the single table: one base model, one subclass per entity.

Each subclass docstring states its key format (builders in ``shared.db.keys``). The ``type`` attribute
is PynamoDB's discriminator, so a Query over a user's partition returns typed items. The table name,
region and endpoint are not fixed here: :func:`bind` sets them from settings at first use.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model


class Gsi1(GlobalSecondaryIndex["BaseItem"]):  # type: ignore[no-untyped-call]
    """Overloaded index: role members, invitees, apps (see docs/data-model.md)."""

    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(range_key=True, attr_name="GSI1SK")


# A user's profile attributes (what ``shared.db.users.to_user`` reads), and what the Directory index projects
# besides its keys: the profile without the password hash (template.yaml's NonKeyAttributes; a test compares).
PROFILE_ATTRIBUTES = (
    "username",
    "nickname",
    "real_name",
    "email",
    "phone",
    "avatar",
    "gender",
    "birthday",
    "status",
    "union_id",
    "referer_id",
    "department_id",
    "password_hash",
    "created_at",
    "last_login_at",
)
VERIFIED_FLAGS = ("email_verified", "phone_verified")
DIRECTORY_ATTRIBUTES = ["type", "user_id", *(a for a in PROFILE_ATTRIBUTES if a != "password_hash"), *VERIFIED_FLAGS]


class Directory(GlobalSecondaryIndex["BaseItem"]):  # type: ignore[no-untyped-call]
    """The user directory: user profiles under ``GSI2PK=USERS#<shard>`` (16 shards), newest first. Only
    the attributes a directory page shows are projected (template.yaml), so the index is written when
    they change, never by sign-ins, sessions or counters, and holds no password hash."""

    class Meta:
        index_name = "Directory"
        projection = IncludeProjection(DIRECTORY_ATTRIBUTES)

    gsi2pk = UnicodeAttribute(hash_key=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(range_key=True, attr_name="GSI2SK")


class BaseItem(Model):
    """Every item: ``PK``, ``SK``, the ``type`` discriminator, optional GSI1 keys and ``ttl``."""

    class Meta:
        table_name = "unbound"  # set by bind()
        region = "us-east-1"
        connect_timeout_seconds = 2
        read_timeout_seconds = 3
        max_retry_attempts = 2

    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    item_type = DiscriminatorAttribute(attr_name="type")
    gsi1pk = UnicodeAttribute(null=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(null=True, attr_name="GSI1SK")
    gsi2pk = UnicodeAttribute(null=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(null=True, attr_name="GSI2SK")
    ttl = NumberAttribute(null=True)

    gsi1 = Gsi1()
    directory = Directory()

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """One connection, so one botocore client, for every entity of the single table.

        PynamoDB would build one per model class (tens of milliseconds each on a cold start); the
        entities share the table, its key schema and its index, so they can share the connection too.
        """
        if cls is BaseItem:
            return super()._get_connection()
        return BaseItem._get_connection()


class UserItem(BaseItem, discriminator="user"):
    """A person. ``PK=USER#<user_id>``, ``SK=PROFILE``."""

    user_id = UnicodeAttribute()
    username = UnicodeAttribute(null=True)
    nickname = UnicodeAttribute(null=True)
    real_name = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    avatar = UnicodeAttribute(null=True)
    gender = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    union_id = UnicodeAttribute(null=True)
    referer_id = UnicodeAttribute(null=True)
    department_id = UnicodeAttribute(null=True)
    password_hash = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    last_login_at = NumberAttribute(null=True)
    email_verified = BooleanAttribute(null=True)
    phone_verified = BooleanAttribute(null=True)
    # The user's aggregate (docs/data-model.md, "The user item"): what the authorizer, sign-in and every
    # change of rights read and write together, guarded by two counters.
    rev = NumberAttribute(null=True)  # sessions epoch: a session is valid only while its rev equals this
    ver = NumberAttribute(null=True)  # optimistic version of roles, accounts and sessions below
    roles = JSONAttribute(null=True)  # {app_name: {role_code: role epoch}}
    accounts = JSONAttribute(null=True)  # [{provider, type, app_id, open_id, nickname, avatar_url, created_at}]
    # {session_id: created_at}, at most MAX_SESSIONS_PER_USER; written by nested paths (no conflicts)
    sessions: Any = MapAttribute(null=True)  # type: ignore[no-untyped-call]
    login_fails = NumberAttribute(null=True)  # sign-in attempts reserved in the current lockout window
    login_window = NumberAttribute(null=True)  # when that window started
    # The second factor (shared.services.mfa): the TOTP secret sealed, never in clear.
    totp_secret = UnicodeAttribute(null=True)
    totp_pending = UnicodeAttribute(null=True)  # set up, not confirmed yet
    totp_pending_at = NumberAttribute(null=True)
    totp_step = NumberAttribute(null=True)  # the last accepted time step: a code is accepted once
    recovery_codes = ListAttribute[str](null=True)  # SHA-256 of each unused recovery code
    mfa_ver = NumberAttribute(null=True)  # bumped by every change of the four above
    external_ids = ListAttribute[str](null=True)  # ``<system>:<id>`` of each imported row this person is


class ClaimItem(BaseItem, discriminator="claim"):
    """Uniqueness claim of an identifier. ``PK=UNAME#|EMAIL#|PHONE#|UNION#|ACCT#...``, ``SK=CLAIM``.

    Written in the same transaction as the item it protects, with ``attribute_not_exists(PK)``.
    """

    user_id = UnicodeAttribute()


class AccountItem(BaseItem, discriminator="account"):
    """One way a user signs in. ``PK=USER#<user_id>``, ``SK=ACCOUNT#<provider>#<app_id>#<open_id>``."""

    user_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    account_type = UnicodeAttribute(null=True)
    app_id = UnicodeAttribute(null=True)
    open_id = UnicodeAttribute()
    nickname = UnicodeAttribute(null=True)
    avatar_url = UnicodeAttribute(null=True)
    created_at = NumberAttribute()


class SessionItem(BaseItem, discriminator="session"):
    """One sign-in. ``PK=SESSION#<session_id>``, ``SK=SESSION``.

    It carries no rights: the authorizer reads it with the user item and the app's role definitions in
    one BatchGetItem, and the session is valid only while its ``rev`` equals the user's. ``refresh_hash``
    is the SHA-256 of the current refresh token; a refresh repeated within the leeway opens
    ``successor_box`` with the token it presents and answers with the same successor; ``previous_hashes``
    is a bounded ring of the used ones, so a replay after that is recognised as reuse and revokes it.
    """

    session_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    app_name = UnicodeAttribute()
    rev = NumberAttribute(null=True)
    refresh_hash = UnicodeAttribute()
    successor_box = UnicodeAttribute(null=True)  # the current token, sealed with the previous one
    prev_hash = UnicodeAttribute(null=True)  # the token rotated away last, and when
    rotated_at = NumberAttribute(null=True)
    generation = NumberAttribute(default=0)
    previous_hashes = ListAttribute[str](default=list)
    created_at = NumberAttribute()
    last_used_at = NumberAttribute()
    expires_at = NumberAttribute()
    max_expires_at = NumberAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    scope = ListAttribute[str](null=True)  # OpenID scopes a sign-in center client was granted


class AppItem(BaseItem, discriminator="app"):
    """An app isolating roles. ``PK=APP#<app_name>``, ``SK=META``."""

    app_name = UnicodeAttribute()
    display_name = UnicodeAttribute(null=True)
    default_role = UnicodeAttribute(null=True)
    allowed_callback_origins = ListAttribute[str](default=list)
    require_captcha = BooleanAttribute(default=False)
    require_email_verification = BooleanAttribute(default=False)
    require_phone_verification = BooleanAttribute(default=False)
    require_mfa = UnicodeAttribute(null=True)  # none | admins | all
    wechat = JSONAttribute(null=True)
    redirect_uris = ListAttribute[str](null=True)
    post_logout_redirect_uris = ListAttribute[str](null=True)
    backchannel_logout_uri = UnicodeAttribute(null=True)
    client_type = UnicodeAttribute(null=True)
    client_secret_hash = UnicodeAttribute(null=True)
    created_at = NumberAttribute()


class RoleItem(BaseItem, discriminator="role"):
    """A role of one app. ``PK=APP#<app_name>``, ``SK=ROLE#<role_code>``."""

    role_id = UnicodeAttribute()
    app_name = UnicodeAttribute()
    role_code = UnicodeAttribute()
    role_name = UnicodeAttribute()
    permissions = ListAttribute[str](default=list)
    menu_ids = ListAttribute[str](default=list)
    status = UnicodeAttribute(default="active")
    epoch = UnicodeAttribute(null=True)  # this incarnation of the code: grants of a deleted role never revive
    created_at = NumberAttribute()


class RoleDefsItem(BaseItem, discriminator="role_defs"):
    """What every role of an app grants. ``PK=APP#<app_name>``, ``SK=ROLES``.

    ``defs`` is ``{role_code: {"e": epoch, "n": name, "p": [permissions], "s": status}}``: one small item
    the authorizer reads beside the session, so editing, disabling or deleting a role is one write
    whatever the number of holders. Written with each role change, conditioned on ``version``.
    """

    app_name = UnicodeAttribute()
    defs = JSONAttribute(default=dict)
    version = NumberAttribute(default=0)


class UserRoleItem(BaseItem, discriminator="user_role"):
    """A user holds a role. ``PK=USER#<user_id>``, ``SK=ROLE#<app_name>#<role_code>``.

    Only the membership index: ``GSI1PK=MEMBERS#<app>#<code>#<epoch>#<shard>``, ``GSI1SK=USER#<user_id>``
    answers "who holds this role" (sharded: the default role is written by every sign-up). What a user
    holds is the user item's ``roles``, written in the same transaction.
    """

    user_id = UnicodeAttribute()
    app_name = UnicodeAttribute()
    role_code = UnicodeAttribute()
    role_id = UnicodeAttribute()
    epoch = UnicodeAttribute(null=True)
    created_at = NumberAttribute()


class AuditItem(BaseItem, discriminator="event"):
    """An audit event. ``PK=AUDIT#<user_id>``, ``SK=EVENT#<ts>#<id>``; expires through ``ttl``."""

    user_id = UnicodeAttribute()
    action = UnicodeAttribute()
    at = NumberAttribute()
    ip = UnicodeAttribute(null=True)
    detail = JSONAttribute(null=True)


class LoginFailuresItem(BaseItem, discriminator="login_failures"):
    """Failed sign-ins of one identifier. ``PK=LOGINFAIL#<identifier>``, ``SK=LOCK``; expires with ``ttl``."""

    failures = NumberAttribute(default=0)
    window_start = NumberAttribute()


class CaptchaItem(BaseItem, discriminator="captcha"):
    """A captcha answer (hashed). ``PK=CAPTCHA#<key>``, ``SK=CAPTCHA``; single use, 5 minutes."""

    answer_hash = UnicodeAttribute()
    expires_at = NumberAttribute()


class CodeItem(BaseItem, discriminator="code"):
    """A verification code (salted hash). ``PK=CODE#<code_type>#<target>``, ``SK=CODE``; single use."""

    code_hash = UnicodeAttribute()
    salt = UnicodeAttribute()
    tries = NumberAttribute(default=0)
    sent_at = NumberAttribute()
    expires_at = NumberAttribute()


class CooldownItem(BaseItem, discriminator="code_cooldown"):
    """The resend cooldown of one target. ``PK=COOLDOWN#<channel>#<target>``, ``SK=COOLDOWN``; expires with
    ``ttl``. ``code_hash`` names the code that holds it, so only that code's withdrawal frees it."""

    code_hash = UnicodeAttribute()
    sent_at = NumberAttribute()


class StateItem(BaseItem, discriminator="state"):
    """A WeChat OAuth ``state``. ``PK=STATE#<state>``, ``SK=STATE``; single use, 10 minutes."""

    data = JSONAttribute()
    expires_at = NumberAttribute()
    scanned_by = UnicodeAttribute(null=True)  # a sign-in QR ticket: the user whose WeChat scanned it


class AuthCodeItem(BaseItem, discriminator="auth_code"):
    """An OAuth 2.0 authorization code of the sign-in center. ``PK=OCODE#<SHA-256 of the code>``,
    ``SK=OCODE``: what the code was issued for (``grant``: client, redirect URI, PKCE challenge, user,
    center session, nonce, scope, auth time, methods), ``expires_at`` (60 s) and, once redeemed,
    ``used_at`` (kept until TTL, so a replay is recognised and the tokens it produced can be revoked)."""

    grant = JSONAttribute()
    expires_at = NumberAttribute()
    used_at = NumberAttribute(null=True)
    session_id = UnicodeAttribute(null=True)  # the session the redemption opened


class PasskeyItem(BaseItem, discriminator="passkey"):
    """A WebAuthn credential. ``PK=USER#<user_id>``, ``SK=PASSKEY#<credential id>``; its id is claimed by
    ``PASSKEY#<credential id>`` / ``CLAIM`` (registered once, to one user)."""

    user_id = UnicodeAttribute()
    credential_id = UnicodeAttribute()  # base64url
    credential_data = UnicodeAttribute()  # the attested credential data (AAGUID, id, COSE public key), base64url
    sign_count = NumberAttribute(default=0)
    backup_eligible = BooleanAttribute(default=False)
    backed_up = BooleanAttribute(default=False)
    transports = ListAttribute[str](null=True)
    name = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    last_used_at = NumberAttribute(null=True)


class CenterSessionItem(BaseItem, discriminator="center_session"):
    """The sign-in center's own session (single sign-on): ``PK=CSESSION#<SHA-256 of the cookie value>``,
    ``SK=CSESSION``. ``rev`` is the user's sessions epoch when it began (a password change, disable or
    "sign out everywhere" ends it like any session); ``clients`` maps each client signed in through it
    to the app session opened (what single logout ends)."""

    user_id = UnicodeAttribute()
    sid = UnicodeAttribute()  # the public id in ID tokens and logout tokens (not the cookie value)
    rev = NumberAttribute(default=0)
    auth_time = NumberAttribute()
    amr = ListAttribute[str](default=list)
    idle_expires_at = NumberAttribute()
    expires_at = NumberAttribute()
    clients: Any = MapAttribute(null=True)  # type: ignore[no-untyped-call]


class MenuItem(BaseItem, discriminator="menu"):
    """A menu of an app. ``PK=APP#<app_name>``, ``SK=MENU#<menu_id>``; trees are built in memory."""

    menu_id = UnicodeAttribute()
    app_name = UnicodeAttribute()
    menu_name = UnicodeAttribute()
    parent_id = UnicodeAttribute(null=True)
    menu_code = UnicodeAttribute(null=True)
    menu_type = NumberAttribute(default=2)
    path = UnicodeAttribute(null=True)
    permission = UnicodeAttribute(null=True)
    sort = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")
    extra = JSONAttribute(null=True)


class DepartmentItem(BaseItem, discriminator="department"):
    """A department. ``PK=ORG``, ``SK=DEPT#<dept_id>``; the tree is built in memory from one Query."""

    dept_id = UnicodeAttribute()
    dept_name = UnicodeAttribute()
    parent_id = UnicodeAttribute(null=True)
    sort = NumberAttribute(default=0)
    leader = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")


class FilterEntryItem(BaseItem, discriminator="filter_entry"):
    """A user listed under one admin filter: ``PK=FILTER#department#<dept_id>`` or
    ``FILTER#status#disabled``, ``SK`` = the user's directory key (``<created_at ms>#<user_id>``, newest
    first). A sparse index kept by hand: written in the same transaction as the user item's
    ``department_id`` or ``status``, so filtering the directory or asking whether a department has users
    reads only the users it lists."""

    user_id = UnicodeAttribute()


class SchemaItem(BaseItem, discriminator="schema"):
    """Which data migration last ran. ``PK=SCHEMA``, ``SK=SCHEMA``."""

    version = NumberAttribute()


class RateItem(BaseItem, discriminator="rate"):
    """A fixed-window counter. ``PK=RATE#<name>#<subject>#<window start>``, ``SK=RATE``; atomic ADD."""

    hits = NumberAttribute(default=0)


ALL_MODELS: tuple[type[BaseItem], ...] = (
    BaseItem,
    UserItem,
    ClaimItem,
    AccountItem,
    SessionItem,
    AppItem,
    RoleItem,
    RoleDefsItem,
    UserRoleItem,
    AuditItem,
    LoginFailuresItem,
    CaptchaItem,
    CodeItem,
    CooldownItem,
    RateItem,
    SchemaItem,
    StateItem,
    MenuItem,
    DepartmentItem,
    FilterEntryItem,
    AuthCodeItem,
    CenterSessionItem,
)


def bind(table_name: str, region: str, host: str | None = None) -> None:
    """Point every model at one table (tests and local mode call it again with other values)."""
    BaseItem.Meta.table_name = table_name
    BaseItem.Meta.region = region
    BaseItem.Meta.host = host  # type: ignore[attr-defined]
    for model in ALL_MODELS:
        model._connection = None
        model.gsi1._connection = None  # type: ignore[attr-defined]
        model.directory._connection = None  # type: ignore[attr-defined]
