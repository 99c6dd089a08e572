"""Typed errors of the training package (shown to the user as one line, no traceback)."""


class TrainingError(Exception):
    """Base class: a problem the user can fix (layout, arguments, run folder)."""


class DatasetLayoutError(TrainingError):
    """The data folder is not one sub-folder per class with images in it."""


class RunFolderError(TrainingError):
    """The run folder is missing, incomplete or would be overwritten."""
