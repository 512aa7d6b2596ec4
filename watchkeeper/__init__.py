"""Watchkeeper: the command line and settings that tie streams → agents → alerts together."""

__version__ = "0.1.0"
