"""`rainloop train` (placeholder until its issue lands)."""

HELP = "train (not implemented yet)"


def add_arguments(parser):
    pass


def run(args):
    from rainloop.errors import RainloopError

    raise RainloopError("not implemented yet")
