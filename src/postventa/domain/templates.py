"""The fixed texts of the template options, per country and language."""

from __future__ import annotations

from postventa.domain.options import MessageOption

_VARIANTS_ES = (
    "Hola, por favor confirma las características que quieres del producto que "
    "compraste, así podemos concretar el envío."
)
_VARIANTS_PT = (
    "Olá! Por favor, confirme as características que quer para o produto que você "
    "comprou, assim, podemos fazer o envio."
)
_BILLING_INTRO = (
    "Para adjuntarte la factura de tu compra necesito los siguientes datos:"
)


def _billing(*fields: str) -> str:
    return _BILLING_INTRO + "\n\n" + "\n".join(f"· {field}" for field in fields)


# (option, country) -> (language, text). Countries absent here have no template.
TEMPLATES: dict[tuple[MessageOption, str], tuple[str, str]] = {
    (MessageOption.REQUEST_VARIANTS, "AR"): ("es", _VARIANTS_ES),
    (MessageOption.REQUEST_VARIANTS, "CL"): ("es", _VARIANTS_ES),
    (MessageOption.REQUEST_VARIANTS, "CO"): ("es", _VARIANTS_ES),
    (MessageOption.REQUEST_VARIANTS, "MX"): ("es", _VARIANTS_ES),
    (MessageOption.REQUEST_VARIANTS, "UY"): ("es", _VARIANTS_ES),
    (MessageOption.REQUEST_VARIANTS, "BR"): ("pt", _VARIANTS_PT),
    (MessageOption.REQUEST_BILLING_INFO, "AR"): (
        "es",
        _billing("Nombre y apellido", "DNI", "Domicilio", "Código postal"),
    ),
    (MessageOption.REQUEST_BILLING_INFO, "CO"): (
        "es",
        _billing(
            "Nombre y apellido",
            "Tipo y número de documento",
            "Email",
            "Domicilio",
            "Código postal",
            "Código de municipio",
            "Código de departamento",
        ),
    ),
    (MessageOption.REQUEST_BILLING_INFO, "MX"): (
        "es",
        _billing("Nombre y apellido", "RFC", "Domicilio", "Código postal"),
    ),
    (MessageOption.REQUEST_BILLING_INFO, "UY"): (
        "es",
        _billing("Nombre y apellido", "Cédula"),
    ),
}


def template_text(option: MessageOption, country: str) -> str | None:
    """Return the text an option sends in a country, or None where it has none."""
    entry = TEMPLATES.get((option, country))
    return entry[1] if entry else None
