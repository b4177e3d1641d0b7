"""What the ``mapper`` commands share: the workspace the command line names.

The main command group (:mod:`mapper.cli`) stores the ``--workspace`` option in the
click context; every command, the administrators' ones (:mod:`mapper.cli_admin`)
included, opens it with :func:`workspace_of`. Keeping this here lets the two command
modules stay independent of each other (``cli`` adds ``cli_admin``'s commands).
"""

from __future__ import annotations

import click

from mapper.store import Workspace


def workspace_of(ctx: click.Context) -> Workspace:
    """The workspace of the running command (``--workspace`` / $MAPPER_WORKSPACE)."""
    return Workspace(ctx.obj["workspace"])
