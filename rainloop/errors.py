"""The one exception type for mistakes a user can make.

Anything raised as RainloopError is printed by the CLI as a single line and
exits with code 2; every other exception is a bug and keeps its traceback.
"""


class RainloopError(Exception):
    """A problem with the user's input (file, option, data), described in one line."""
