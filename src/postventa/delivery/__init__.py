"""Delivering accepted messages to the marketplace, and bringing replies back."""
