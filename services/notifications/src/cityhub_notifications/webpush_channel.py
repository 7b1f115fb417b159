"""Web Push (RFC 8030 + VAPID RFC 8292, aes128gcm payloads) through pywebpush.

A 404/410 from the push service means the subscription is gone: the device is marked dead and,
if no device is left, the dispatcher falls back to the next channel.

Endpoints come from residents' browsers, so each send re-checks the endpoint against the SDK's
outbound policy (resolved now: DNS may have changed since registration) and every socket is
checked again as it connects (redirects, rebinding between check and connect). An endpoint on a
private address is treated like a gone subscription.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from cityhub_sdk.outbound import BlockedTarget, OutboundPolicy
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush_async  # type: ignore[import-untyped]

from cityhub_notifications.channels import (
    DELIVERED,
    FAILED_PERMANENT,
    FAILED_TEMPORARY,
    DeliveryResult,
    OutgoingMessage,
    PushTarget,
)
from cityhub_notifications.config import NotificationsSettings
from cityhub_notifications.models import URGENCY_URGENT

GONE = (404, 410)


class WebPushChannel:
    name = "push"
    needs_contact = False

    def __init__(
        self, private_key: str, subject: str, timeout_s: float, outbound: OutboundPolicy | None = None
    ) -> None:
        self.vapid = Vapid02.from_raw(private_key.encode())
        self.subject = subject
        self.timeout_s = timeout_s
        self.outbound = outbound or OutboundPolicy()
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(socket_factory=self.outbound.socket_factory),
            )
        return self._session

    async def _push(self, target: PushTarget, payload: str, urgent: bool) -> int:
        await self.outbound.check_url_resolved(target.endpoint, schemes=("https", "http"))
        response: Any = await webpush_async(
            subscription_info={"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}},
            data=payload,
            vapid_private_key=self.vapid,
            vapid_claims={"sub": self.subject},
            ttl=86400,
            headers={"Urgency": "high" if urgent else "normal"},
            timeout=self.timeout_s,
            aiohttp_session=self._http(),
        )
        return int(response.status)

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        if not message.devices:
            return DeliveryResult(FAILED_PERMANENT, "no device")
        payload = json.dumps(
            {
                "notification_id": message.notification_id,
                "title": message.title,
                "body": message.body,
                "lang": message.lang,
                "data": dict(message.data),
            },
            ensure_ascii=False,
        )
        result = DeliveryResult(FAILED_PERMANENT, "every device refused")
        temporary = False
        for target in message.devices:
            try:
                status = await self._push(target, payload, message.urgency == URGENCY_URGENT)
            except WebPushException as exc:
                status = exc.response.status if exc.response is not None else 0
            except (ValueError, TypeError, BlockedTarget):
                # keys that cannot encrypt (not a P-256 point), or a private address: the subscription is unusable
                status = GONE[0]
            except aiohttp.ClientConnectorError as exc:
                status = GONE[0] if isinstance(exc.os_error, BlockedTarget) else 0
            except (aiohttp.ClientError, OSError, TimeoutError):
                status = 0
            if 200 <= status < 300:
                result.delivered_devices.append(target.device_id)
            elif status in GONE:
                result.dead_devices.append(target.device_id)
            else:
                temporary = True
        if result.delivered_devices:
            result.status, result.error = DELIVERED, None
        elif temporary:
            result.status, result.error = FAILED_TEMPORARY, "push service unavailable"
        return result

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def webpush_channel(settings: NotificationsSettings, vapid_private_key: str | None) -> WebPushChannel | None:
    if not vapid_private_key:
        return None
    outbound = OutboundPolicy(settings.outbound_allowed_networks)
    return WebPushChannel(vapid_private_key, settings.vapid_subject, settings.push_timeout_s, outbound)
