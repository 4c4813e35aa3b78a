"""Exceptions ecgapp raises for problems a user can fix.

Every message names the file (or record) and says what is wrong in plain words, so the CLI and the
app can show it as is.
"""

from __future__ import annotations


class InputError(ValueError):
    """An ECG file or array the user gave cannot be used (corrupt, wrong format, absurd values)."""


class UnsupportedFormatError(InputError):
    """The uploaded files are not WFDB, CSV or EDF, or use a WFDB feature we do not read."""


class DataNotFoundError(FileNotFoundError):
    """A PhysioNet record is neither on disk nor downloadable; the message lists where we looked."""
