"""NeuroReview desktop_app package."""
