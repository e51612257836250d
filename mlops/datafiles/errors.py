"""The one error of the data-file reader. Pure Python, no Django."""


class DataFileError(ValueError):
    """A problem with the data file itself; the message is for the person who sent it."""
