"""The composition root: the `eldercare` command and the application it runs."""

__version__ = "0.1.0"
