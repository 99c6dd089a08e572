"""NeuroReview training package: data, duplicate-aware split, training, evaluation, export.

Command line: ``neuroreview-train`` (see ``training.cli``).  Imports ``core`` for the model and the
model rendering; never imports Qt.
"""
