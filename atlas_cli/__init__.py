"""Command-line administration for Atlas billing and usage metering."""

__version__ = "0.1.0"
