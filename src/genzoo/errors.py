"""User-facing errors: the CLI prints these as one line and exits with code 2."""


class GenzooError(Exception):
    """Something the user can fix (bad name, missing file, corrupt data). Never a bug."""
