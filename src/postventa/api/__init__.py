"""The HTTP API: routes, parameters, errors, rate limits and authentication."""
