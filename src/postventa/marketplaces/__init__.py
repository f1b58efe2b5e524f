"""Stand-ins and connectors for the marketplaces postventa delivers to."""
