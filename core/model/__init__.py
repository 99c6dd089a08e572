"""The model layer: network, weights and their config, the classifier and its helper process, saliency,
predictions and the series rule.  Imports :mod:`core.imaging` and :mod:`core.platform`, never exports or
the command line.  Nothing is imported here, so ``import core.model.prediction`` stays cheap (TensorFlow
loads only when a classifier is built)."""
