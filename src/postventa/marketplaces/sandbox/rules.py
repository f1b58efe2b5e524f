"""The marketplace's rules: options and templates, text limits, moderation, files."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from postventa.marketplaces.sandbox.errors import BadRequest, NotFound

MAX_TEXT_LENGTH = 350
MAX_FILENAME_LENGTH = 200
LATIN1_MAX = 0xFF
ATTACHMENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
    "txt": "text/plain",
}
_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Template:
    """A fixed text of the sandbox's own; `{name}` marks a variable."""

    id: str
    text: str
    vars: tuple[str, ...] = ()

    def render(self, values: Mapping[str, str]) -> str:
        missing = [name for name in self.vars if not values.get(name)]
        if missing:
            raise BadRequest(
                f"Template {self.id} needs the variables {', '.join(missing)}.",
                "invalid_template",
            )
        return self.text.format_map({name: values[name] for name in self.vars})


@dataclass(frozen=True)
class Option:
    """A reason to contact the buyer first, as the action guide lists it."""

    id: str
    templates: tuple[Template, ...] = ()
    free_text: bool = False
    # An invoice link is the point of this option, so links pass moderation.
    allows_links: bool = False

    def template(self, template_id: str) -> Template:
        for template in self.templates:
            if template.id == template_id:
                return template
        raise BadRequest(
            f"Template {template_id} does not belong to option {self.id}.",
            "invalid_template",
        )


def _template(option_id: str, text: str, *names: str) -> Template:
    return Template(f"TEMPLATE___{option_id}___1", text, names)


OPTIONS: tuple[Option, ...] = (
    Option(
        "REQUEST_VARIANTS",
        (_template("REQUEST_VARIANTS", "[sandbox] Which variant do you want?"),),
    ),
    Option(
        "REQUEST_BILLING_INFO",
        (_template("REQUEST_BILLING_INFO", "[sandbox] Billing details, please."),),
    ),
    Option(
        "SEND_INVOICE_LINK",
        (
            _template(
                "SEND_INVOICE_LINK",
                "[sandbox] Your invoice: {invoice_link}",
                "invoice_link",
            ),
        ),
        free_text=True,
        allows_links=True,
    ),
    Option("OTHER", free_text=True),
    Option(
        "DELIVERY_PROMISE",
        (
            _template(
                "DELIVERY_PROMISE",
                "[sandbox] Delivery in {from_day} to {to_day} days.",
                "from_day",
                "to_day",
            ),
        ),
        free_text=True,
    ),
)


def find_option(option_id: str) -> Option:
    for option in OPTIONS:
        if option.id == option_id:
            return option
    raise NotFound(f"Option {option_id} is not a valid option.", "invalid_option")


def option_text(
    option: Option,
    template_id: str | None,
    text: str | None,
    values: Mapping[str, str],
) -> str:
    """The text an option sends: its rendered template or the seller's text."""
    if template_id:
        return checked_text(option.template(template_id).render(values))
    if option.free_text and text is not None:
        return checked_text(text)
    wanted = "a template_id or a text" if option.free_text else "a template_id"
    raise BadRequest(f"Option {option.id} needs {wanted}.", "invalid_template")


def checked_text(text: str) -> str:
    """Refuse a seller's text the marketplace would refuse."""
    if not text.strip():
        raise BadRequest("The text is empty.", "invalid_text")
    if len(text) > MAX_TEXT_LENGTH:
        raise BadRequest(
            f"The text has {len(text)} characters; at most {MAX_TEXT_LENGTH} "
            "are allowed.",
            "invalid_text",
        )
    for position, char in enumerate(text, start=1):
        if ord(char) > LATIN1_MAX:
            raise BadRequest(
                f"The text has a character outside ISO-8859-1: U+{ord(char):04X} "
                f"at position {position}.",
                "invalid_text",
            )
    return text


def moderation_reason(text: str, allow_links: bool = False) -> str | None:
    """Why a seller's text is withheld from the buyer, if it is."""
    if not allow_links and _URL.search(text):
        return "LINK"
    if _EMAIL.search(text):
        return "EMAIL"
    return None


def checked_attachment(filename: str, size: int, max_bytes: int) -> str:
    """Refuse a file the marketplace would refuse; answer its media type."""
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension not in ATTACHMENT_TYPES:
        raise BadRequest(
            "Only jpg, png, pdf and txt files are accepted.", "invalid_extension"
        )
    if not filename or len(filename) > MAX_FILENAME_LENGTH:
        raise BadRequest(
            f"The file name must have 1 to {MAX_FILENAME_LENGTH} characters.",
            "invalid_filename",
        )
    if not 1 <= size <= max_bytes:
        raise BadRequest(
            f"The file must have 1 to {max_bytes} bytes; it has {size}.",
            "invalid_size",
        )
    return ATTACHMENT_TYPES[extension]


def buyer_user_id(pack_id: str) -> int:
    """A stable, made-up buyer id for a pack."""
    digest = hashlib.sha256(pack_id.encode()).digest()
    return 100_000_000 + int.from_bytes(digest[:8], "big") % 900_000_000
