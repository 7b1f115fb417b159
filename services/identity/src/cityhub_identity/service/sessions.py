"""Sign-up, sign-in, refresh-token rotation with reuse detection, logout.

Every failure of sign-in or refresh raises the same `Unauthenticated`; an unknown email costs
one Argon2 verification like a known one; a locked account answers exactly like a wrong password.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from cityhub_sdk.auth import ROLE_OPERATOR, ROLE_RESIDENT, ROLE_STAFF
from cityhub_sdk.db import Database
from cityhub_sdk.errors import InvalidArgument
from cityhub_sdk.logging import get_logger
from sqlalchemy.exc import IntegrityError

from cityhub_identity import validation
from cityhub_identity.config import IdentitySettings
from cityhub_identity.errors import Unauthenticated
from cityhub_identity.models import Account, RefreshToken, Session, aware
from cityhub_identity.passwords import Passwords, password_problem
from cityhub_identity.repository import (
    dao_account_by_email,
    dao_count_failure,
    dao_live_account,
    dao_refresh_token,
    dao_revoked_sessions_since,
)
from cityhub_identity.secrets_store import SecretStore
from cityhub_identity.tokens import AccessTokens, TokenPair, new_refresh_token, sha256_hex, successor_of

log = get_logger(__name__)


class SessionService:
    def __init__(
        self,
        db: Database,
        settings: IdentitySettings,
        passwords: Passwords,
        access: AccessTokens,
        secrets: SecretStore,
    ) -> None:
        self.db = db
        self.settings = settings
        self.passwords = passwords
        self.access = access
        self.secrets = secrets

    # accounts --------------------------------------------------------------------------------
    async def register(
        self, *, email: str, password: str, display_name: str, preferred_language: str, phone: str
    ) -> None:
        """Creates a resident; an already registered email gets the same silent success."""
        await self.create_account(
            email=email,
            password=password,
            role=ROLE_RESIDENT,
            department=None,
            display_name=display_name,
            preferred_language=preferred_language,
            phone=phone,
        )

    async def create_account(
        self,
        *,
        email: str,
        password: str,
        role: str,
        department: str | None,
        display_name: str = "",
        preferred_language: str = "en",
        phone: str = "",
    ) -> tuple[str, bool]:
        address = validation.email(email)
        problem = password_problem(password, address)
        if problem:
            raise InvalidArgument(problem)
        if role not in (ROLE_RESIDENT, ROLE_STAFF, ROLE_OPERATOR):
            raise InvalidArgument("role must be resident, staff or operator")
        department = validation.slug(department or "", "department") if role == ROLE_STAFF else None
        account = Account(
            id=str(uuid.uuid4()),
            email=address,
            role=role,
            department=department,
            display_name=validation.display_name(display_name),
            preferred_language=validation.language(preferred_language),
            phone=validation.phone(phone),
        )
        account.password_hash = await self.passwords.hash(password)  # also when the email exists: same cost
        try:
            async with self.db.transaction() as session:
                session.add(account)
        except IntegrityError:
            async with self.db.session() as session:
                existing = await dao_account_by_email(session, address)
            return (existing.id if existing is not None else "", False)
        log.info("identity.account_created", account_id=account.id, role=role)
        return account.id, True

    # sign-in ---------------------------------------------------------------------------------
    async def sign_in(self, email: str, password: str) -> TokenPair:
        try:
            address = validation.email(email)
        except InvalidArgument:
            address = ""
        now = datetime.now(UTC)
        async with self.db.session() as session:
            account = await dao_account_by_email(session, address) if address else None
        locked = account is not None and account.locked_until is not None and aware(account.locked_until) > now
        ok = await self.passwords.verify(None if account is None or locked else account.password_hash, password)
        if account is None or locked:
            raise Unauthenticated()
        if not ok:
            await self._record_failure(account.id, now)
            raise Unauthenticated()
        return await self._start_session(account, now, password)

    async def _record_failure(self, account_id: str, now: datetime) -> None:
        async with self.db.transaction() as session:
            failures = await dao_count_failure(session, account_id)
            over = failures - self.settings.lockout_threshold
            if over >= 0:
                account = await session.get(Account, account_id)
                assert account is not None
                seconds = min(self.settings.lockout_base_s * 2 ** min(over, 20), self.settings.lockout_max_s)
                account.locked_until = now + timedelta(seconds=seconds)
                session.add(account)
                log.warning("identity.account_locked", account_id=account_id, seconds=seconds)

    async def _start_session(self, account: Account, now: datetime, password: str) -> TokenPair:
        refresh = new_refresh_token()
        session_id = str(uuid.uuid4())
        expires = now + timedelta(seconds=self.settings.refresh_token_ttl_s)
        new_hash = await self.passwords.hash(password) if self.passwords.needs_rehash(account.password_hash) else None
        async with self.db.transaction() as session:
            stored = await session.get(Account, account.id)
            assert stored is not None
            stored.failed_logins = 0
            stored.locked_until = None
            if new_hash:
                stored.password_hash = new_hash
            session.add(stored)
            session.add(Session(id=session_id, account_id=account.id, created_at=now, expires_at=expires))
            session.add(RefreshToken(token_hash=sha256_hex(refresh), session_id=session_id, expires_at=expires))
        return await self._pair(account, session_id, refresh)

    async def _pair(self, account: Account, session_id: str, refresh: str) -> TokenPair:
        access = await self.access.issue(
            account_id=account.id, role=account.role, department=account.department, session_id=session_id
        )
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=self.access.ttl_s)

    # refresh ---------------------------------------------------------------------------------
    async def refresh(self, token: str) -> TokenPair:
        if not token or len(token) > 200:
            raise Unauthenticated()
        secret = await self.secrets.get("refresh-successor")
        now = datetime.now(UTC)
        reused = False
        successor = successor_of(secret, token)
        async with self.db.transaction() as session:
            row = await dao_refresh_token(session, sha256_hex(token), lock=not self.db.is_sqlite)
            if row is None:
                raise Unauthenticated()
            family = await session.get(Session, row.session_id, with_for_update=not self.db.is_sqlite)
            if family is None or family.revoked_at is not None or aware(family.expires_at) <= now:
                raise Unauthenticated()
            account = await dao_live_account(session, family.account_id)
            if account is None or aware(row.expires_at) <= now:
                raise Unauthenticated()
            if row.used_at is None:
                expires = now + timedelta(seconds=self.settings.refresh_token_ttl_s)
                row.used_at = now
                row.successor_hash = sha256_hex(successor)
                family.expires_at = expires
                session.add_all([row, family])
                session.add(RefreshToken(token_hash=row.successor_hash, session_id=family.id, expires_at=expires))
            else:
                next_row = await session.get(RefreshToken, row.successor_hash) if row.successor_hash else None
                in_grace = now - aware(row.used_at) <= timedelta(seconds=self.settings.refresh_grace_s)
                if not (in_grace and next_row is not None and next_row.used_at is None):
                    family.revoked_at = now  # a rotated token came back: the family is compromised
                    session.add(family)
                    reused = True
        if reused:
            log.warning("identity.refresh_reuse_detected", session_id=family.id)
            raise Unauthenticated()
        return await self._pair(account, family.id, successor)

    async def revoke(self, token: str) -> None:
        """Logout: the refresh token's family ends; unknown tokens succeed silently."""
        if not token or len(token) > 200:
            return
        async with self.db.transaction() as session:
            row = await dao_refresh_token(session, sha256_hex(token), lock=False)
            if row is None:
                return
            family = await session.get(Session, row.session_id)
            if family is not None and family.revoked_at is None:
                family.revoked_at = datetime.now(UTC)
                session.add(family)

    async def revoked_session_ids(self) -> list[str]:
        """Sessions whose access tokens may still be unexpired (revoked within the token lifetime)."""
        since = datetime.now(UTC) - timedelta(seconds=self.settings.access_token_ttl_s + 60)
        async with self.db.session() as session:
            return list(await dao_revoked_sessions_since(session, since))
