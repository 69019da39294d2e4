"""`quantmini sim ...`: the simulator's own CLI (`python -m quantmini.sim`), as a subcommand."""

from __future__ import annotations


def sim(args) -> int:
    from quantmini.sim.__main__ import main as sim_main

    return sim_main(args.sim_args)
