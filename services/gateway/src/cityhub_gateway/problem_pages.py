"""The pages that problem `type` URIs resolve to: what each kind of error means, in five languages."""

from __future__ import annotations

from html import escape

from cityhub_sdk.languages import SUPPORTED_LANGUAGES, is_rtl
from litestar import MediaType, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from cityhub_gateway.errors import KINDS, PROBLEM_BASE

_STYLE = "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code{background:#eee}"


def _page(title: str, body: str) -> Response[str]:
    html = f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{escape(title)}</title><style>{_STYLE}</style><body>{body}</body></html>'
    return Response(html, media_type=MediaType.HTML)


@get(PROBLEM_BASE + "{kind:str}", include_in_schema=False, sync_to_thread=False)
def problem_page(kind: FromPath[str]) -> Response[str]:
    entry = KINDS.get(kind)
    if entry is None:
        raise NotFoundException()
    texts = "".join(
        f'<section lang="{lang}" dir="{"rtl" if is_rtl(lang) else "ltr"}"><h2>{escape(entry.title[lang])}</h2>'
        f"<p>{escape(entry.detail[lang])}</p></section>"
        for lang in SUPPORTED_LANGUAGES
    )
    body = (
        f"<h1><code>{escape(kind)}</code>: HTTP {entry.status}</h1>"
        "<p>CityHub answers this error as <code>application/problem+json</code> with this page as its "
        "<code>type</code>. Quote the <code>trace_id</code> of the answer (also in the "
        "<code>X-Trace-Id</code> header) when you report a problem.</p>" + texts
    )
    return _page(f"{kind} ({entry.status})", body)


@get(PROBLEM_BASE.rstrip("/"), include_in_schema=False, sync_to_thread=False)
def problem_index() -> Response[str]:
    rows = "".join(
        f'<li><a href="{PROBLEM_BASE}{name}"><code>{name}</code></a>: HTTP {kind.status}, {escape(kind.title["en"])}</li>'
        for name, kind in KINDS.items()
    )
    return _page("CityHub problem types", f"<h1>Problem types</h1><ul>{rows}</ul>")


PROBLEM_PAGE_ROUTES = [problem_page, problem_index]
