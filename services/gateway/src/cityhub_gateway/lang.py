"""Language negotiation for gateway routes: the SDK's one implementation and the shared parameters."""

from __future__ import annotations

from cityhub_sdk.languages import negotiate

from cityhub_gateway.params import AcceptLanguage, LangQuery

__all__ = ["AcceptLanguage", "LangQuery", "negotiate"]
