"""The Mercado Libre connector: post-sale messages through the marketplace's API."""

from postventa.marketplaces.mercadolibre.client import MercadoLibre
from postventa.marketplaces.mercadolibre.ratelimit import FairLimiter

__all__ = ["FairLimiter", "MercadoLibre"]
