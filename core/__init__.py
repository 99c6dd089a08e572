"""NeuroReview core package."""
