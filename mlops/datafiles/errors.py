"""The one error of the data-file reader, and the messages several of its modules give. Pure Python,
no Django."""


class DataFileError(ValueError):
    """A problem with the data file itself; the message is for the person who sent it."""


def not_utf8(offset: int | None) -> DataFileError:
    where = f" at byte offset {offset}" if offset is not None else ""
    return DataFileError(
        f"The file is not valid UTF-8: the first bad byte is{where}. Save it as UTF-8 and send it again."
    )
