"""Runnable examples: ``python -m ember.examples.digits`` (what ``make demo`` runs)."""
