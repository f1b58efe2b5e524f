"""The template options' texts, copied here from the seed's documentation."""

from __future__ import annotations

import itertools

import pytest

from postventa.domain.options import MessageOption
from postventa.domain.templates import TEMPLATES, template_text

ALL_COUNTRIES = ("AR", "BR", "CL", "CO", "EC", "MX", "PE", "UY")
VARIANTS = MessageOption.REQUEST_VARIANTS
BILLING = MessageOption.REQUEST_BILLING_INFO

VARIANTS_SPANISH = (
    "Hola, por favor confirma las características que quieres del producto que "
    "compraste, así podemos concretar el envío."
)
VARIANTS_PORTUGUESE = (
    "Olá! Por favor, confirme as características que quer para o produto que você "
    "comprou, assim, podemos fazer o envio."
)
BILLING_INTRO = "Para adjuntarte la factura de tu compra necesito los siguientes datos:"

# The seed's texts per (option, country), rendered as plain text with line breaks.
SEED_TEMPLATES: dict[tuple[MessageOption, str], tuple[str, str]] = {
    (VARIANTS, "AR"): ("es", VARIANTS_SPANISH),
    (VARIANTS, "CL"): ("es", VARIANTS_SPANISH),
    (VARIANTS, "CO"): ("es", VARIANTS_SPANISH),
    (VARIANTS, "MX"): ("es", VARIANTS_SPANISH),
    (VARIANTS, "UY"): ("es", VARIANTS_SPANISH),
    (VARIANTS, "BR"): ("pt", VARIANTS_PORTUGUESE),
    (BILLING, "AR"): (
        "es",
        BILLING_INTRO + "\n\n· Nombre y apellido\n· DNI\n· Domicilio\n· Código postal",
    ),
    (BILLING, "CO"): (
        "es",
        BILLING_INTRO + "\n\n"
        "· Nombre y apellido\n"
        "· Tipo y número de documento\n"
        "· Email\n"
        "· Domicilio\n"
        "· Código postal\n"
        "· Código de municipio\n"
        "· Código de departamento",
    ),
    (BILLING, "MX"): (
        "es",
        BILLING_INTRO + "\n\n· Nombre y apellido\n· RFC\n· Domicilio\n· Código postal",
    ),
    (BILLING, "UY"): (
        "es",
        BILLING_INTRO + "\n\n· Nombre y apellido\n· Cédula",
    ),
}


def _absent_cases() -> list[object]:
    return [
        pytest.param(option, country, id=f"{option.name} has no template in {country}")
        for option, country in itertools.product(MessageOption, ALL_COUNTRIES)
        if (option, country) not in SEED_TEMPLATES
    ]


def _present_cases() -> list[object]:
    return [
        pytest.param(
            option, country, id=f"{option.name} has the seed's text in {country}"
        )
        for option, country in SEED_TEMPLATES
    ]


@pytest.mark.parametrize(("option", "country"), _present_cases())
def test_the_seed_text_is_the_template_of_its_country(option, country):
    assert template_text(option, country) == SEED_TEMPLATES[option, country][1]


@pytest.mark.parametrize(("option", "country"), _present_cases())
def test_the_template_is_in_the_language_of_its_country(option, country):
    assert TEMPLATES[option, country][0] == SEED_TEMPLATES[option, country][0]


@pytest.mark.parametrize(("option", "country"), _absent_cases())
def test_no_template_exists_where_the_seed_lists_none(option, country):
    assert template_text(option, country) is None


def test_templates_exist_for_exactly_the_seed_countries():
    assert set(TEMPLATES) == set(SEED_TEMPLATES)


@pytest.mark.parametrize(("option", "country"), _present_cases())
def test_a_template_is_a_text_the_marketplace_accepts(option, country):
    text = template_text(option, country)

    assert text is not None
    assert 1 <= len(text) <= 350
    text.encode("iso-8859-1")
    assert text == text.strip()


@pytest.mark.parametrize("country", ["AR", "CO", "MX", "UY"])
def test_a_billing_template_is_plain_text_with_one_bullet_line_per_field(country):
    text = template_text(BILLING, country)

    assert text is not None
    intro, blank, *bullets = text.split("\n")
    assert intro == BILLING_INTRO
    assert blank == ""
    assert bullets[0] == "· Nombre y apellido"
    assert all(line.startswith("· ") for line in bullets)
    assert "<" not in text
    assert "\r" not in text


@pytest.mark.parametrize(
    "option",
    [
        MessageOption.SEND_INVOICE_LINK,
        MessageOption.OTHER,
        MessageOption.DELIVERY_PROMISE,
    ],
    ids=lambda option: f"{option.name} is free text",
)
def test_a_free_text_option_has_no_template_anywhere(option):
    assert all(template_text(option, country) is None for country in ALL_COUNTRIES)
