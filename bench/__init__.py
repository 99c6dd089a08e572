"""NeuroReview benchmark harness: ``make bench`` runs ``python -m bench.run``."""
