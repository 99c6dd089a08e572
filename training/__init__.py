"""NeuroReview training package."""
