"""The ``expertloop`` command line."""
