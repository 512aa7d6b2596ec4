"""The command line: ``watchkeeper worker``, ``replay``, ``send``, ``topics``, ``users``, ``schemas``, ``rules``."""

__version__ = "0.1.0"
