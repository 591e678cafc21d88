"""expertloop: a self-hostable platform for expert human feedback for AI training."""

__all__ = ["__version__"]

__version__ = "0.1.0"
