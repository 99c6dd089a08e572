"""The platform layer: where user files and bundled files live, logging, the audit log, helper processes
and the progress bar.  Imports nothing else from ``core``, so every other layer may use it."""
