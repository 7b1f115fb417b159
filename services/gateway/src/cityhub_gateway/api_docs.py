"""The API reference page at /schema, served entirely by the gateway: it works without internet.

Litestar's render plugins load their JavaScript from a CDN (Scalar even at `@latest`), so the page
is blank offline and changes under us. Swagger UI's files come instead from the pinned
`swagger-ui-bundle-v2` wheel and are served under /schema/assets/, which the policy table already
leaves public (every `/schema` path is); the page links nothing outside the gateway.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from litestar.router import Router

SCHEMA_PATH = "/schema"  # OpenAPIConfig.path: the router the render plugin is mounted on
ASSETS = "/assets"  # below SCHEMA_PATH
ASSETS_DIR = Path(str(swagger_ui_path))
# Swagger UI's own files; each must exist in the pinned wheel (checked at import, not in a browser).
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png")

_missing = [name for name in ASSET_FILES if not (ASSETS_DIR / name).is_file()]
if _missing:  # a different swagger-ui-bundle-v2 layout: fail at start-up, not with a blank page
    raise RuntimeError(f"swagger-ui-bundle-v2 lacks {_missing} in {ASSETS_DIR}")


def _asset(name: str) -> str:
    return f"{SCHEMA_PATH}{ASSETS}/{name}"


class ApiReferencePlugin(SwaggerRenderPlugin):
    """Swagger UI with every asset (JS, CSS, favicon) served from the gateway's own /schema/assets."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            js_url=_asset("swagger-ui-bundle.js"),
            css_url=_asset("swagger-ui.css"),
            standalone_preset_js_url=_asset("swagger-ui-standalone-preset.js"),
            favicon=f"<link rel='icon' type='image/png' href='{_asset('favicon-32x32.png')}'>",
            **kwargs,
        )

    def receive_router(self, router: Router) -> None:
        """Adds the static asset route next to Swagger UI's own OAuth2 redirect page."""
        super().receive_router(router)
        router.register(
            create_static_files_router(
                path=ASSETS,
                directories=[ASSETS_DIR],
                name="api-reference-assets",
                include_in_schema=False,
            )
        )
