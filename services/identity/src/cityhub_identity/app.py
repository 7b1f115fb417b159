"""How identity plugs into the SDK runtime. Identity verifies tokens with its own key store
(it cannot ask itself over gRPC) and API keys against its own table."""

from __future__ import annotations

from pathlib import Path

from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts
from cityhub_sdk.auth import ROLE_DEPARTMENT, AuthInterceptor, Caller, TokenVerifier
from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger

from cityhub_identity.config import IdentitySettings
from cityhub_identity.consumers import erasure_consumers
from cityhub_identity.keys import KeyStore
from cityhub_identity.passwords import Passwords
from cityhub_identity.secrets_store import SecretStore
from cityhub_identity.server import IdentityServicer
from cityhub_identity.service.admin import AdminService
from cityhub_identity.service.residents import ResidentService
from cityhub_identity.service.sessions import SessionService
from cityhub_identity.tokens import AccessTokens

log = get_logger(__name__)
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name


def key_store(db: Database, settings: IdentitySettings) -> KeyStore:
    return KeyStore(
        db,
        access_ttl_s=settings.access_token_ttl_s,
        directory=settings.signing_keys_dir,
        encryption_secret=settings.key_encryption_secret,
        activation_delay_s=settings.key_activation_delay_s,
        cache_s=settings.key_cache_s,
    )


async def setup(context: ServiceContext[IdentitySettings]) -> ServiceParts:
    settings = context.settings
    keys = key_store(context.db, settings)
    await keys.ensure_key()
    secrets_store = SecretStore(context.db, {"pseudonym": settings.pseudonym_secret})
    passwords = Passwords(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )
    sessions = SessionService(
        context.db, settings, passwords, AccessTokens(keys, ttl_s=settings.access_token_ttl_s), secrets_store
    )
    admin = AdminService(context.db, secrets_store)
    servicer = IdentityServicer(sessions, ResidentService(context.db, settings), admin, keys)

    async def api_key_caller(key: str) -> Caller | None:
        row = await admin.verify_api_key(key)
        return Caller(role=ROLE_DEPARTMENT, subject=row.id, department=row.department, api_key=key) if row else None

    verifier = TokenVerifier(
        keys.jwks, min_refresh_gap_s=0.0, revoked=sessions.revoked_session_ids, revocation_ttl_s=0.0
    )
    return ServiceParts(
        service_names=[SERVICE_NAME],
        registrations=[lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server)],
        consumers=erasure_consumers(settings.erasure_confirming_services),
        auth=AuthInterceptor(verifier, api_keys=api_key_caller, internal_token=settings.internal_api_token),
    )


async def rotate_keys(settings: IdentitySettings) -> None:
    """`python -m cityhub_identity rotate-keys`: add a new signing key; old ones stay published."""
    db = Database(settings.database_url)
    try:
        kid = await key_store(db, settings).add_key()
        log.info("identity.signing_key_added", kid=kid, activates_in_s=settings.key_activation_delay_s)
    finally:
        await db.dispose()


DEFINITION = ServiceDefinition(
    name="identity",
    settings_type=IdentitySettings,
    migrations=MIGRATIONS,
    setup=setup,
    commands={"rotate-keys": rotate_keys},
)
