"""Mercado Libre's sites, their countries and languages."""

from __future__ import annotations

SITE_BY_COUNTRY: dict[str, str] = {
    "AR": "MLA",
    "BR": "MLB",
    "CL": "MLC",
    "CO": "MCO",
    "MX": "MLM",
    "UY": "MLU",
    "PE": "MPE",
    "EC": "MEC",
}
COUNTRY_BY_SITE: dict[str, str] = {site: c for c, site in SITE_BY_COUNTRY.items()}
COUNTRIES: tuple[str, ...] = tuple(SITE_BY_COUNTRY)
LANGUAGE_BY_COUNTRY: dict[str, str] = {c: "es" for c in COUNTRIES} | {"BR": "pt"}


def country_code(value: str | None) -> str | None:
    """Return the ISO country of a country code or a site id, or None if unknown."""
    if not value:
        return None
    code = value.strip().upper()
    if code in SITE_BY_COUNTRY:
        return code
    return COUNTRY_BY_SITE.get(code)


def site_id(value: str) -> str | None:
    """Return the site id named by a site id or a country code, or None."""
    country = country_code(value)
    return SITE_BY_COUNTRY[country] if country else None
