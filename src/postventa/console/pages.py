"""Rendering the console's pages: the templates, their shared context, headers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from postventa.config import Settings
from postventa.console.auth import Sessions
from postventa.console.views import SendForm, conversation_context, template_filters
from postventa.domain.accounts import Account
from postventa.domain.messages import Conversation
from postventa.domain.orders import Order
from postventa.service.reads import available_options, order_conversation
from postventa.store.blobs import BlobStore
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

AnyRequest = Request[Any, Any, Any]
TEMPLATES = Path(__file__).with_name("templates")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The console's Jinja templates, escaped, failing on undefined names."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(template_filters())
    return TemplateConfig(instance=JinjaTemplateEngine(engine_instance=environment))


@dataclass(frozen=True, slots=True)
class Console:
    """What the console's handlers share."""

    settings: Settings
    database: Database
    blobs: BlobStore
    sessions: Sessions
    wake: Callable[[], None]


def render(
    request: AnyRequest,
    name: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A page or fragment, with the signed-in operator's name and CSRF token."""
    session = getattr(request.state, "console_session", None)
    base: dict[str, Any] = {
        "operator": None,
        "csrf": None,
        "section": None,
        "notice": None,
    }
    if session is not None:
        base.update(operator=session.operator, csrf=session.csrf_token)
    return Template(
        name, context={**base, **context}, status_code=status_code, headers=headers
    )


async def conversation_page(
    database: Database, account_id: int, order_id: int, form: SendForm | None = None
) -> dict[str, Any]:
    """What the conversation page shows, read in one snapshot (404 if no order)."""

    def job(repos: Repositories) -> tuple[Order, Conversation, Account | None]:
        order, conversation = order_conversation(repos, account_id, order_id)
        return order, conversation, repos.accounts.get(account_id)

    order, conversation, account = await database.read(job)
    options = available_options(order, conversation)
    return conversation_context(order, conversation, options, form, account)
