"""The `regie` command's entry point.

`regie service ...` (the client side, clients/cli/service.py) loads only the SDK: it speaks
HTTP and needs none of the server's packages, and a curl session that calls
`regie service assertion` for every request should not pay for importing them. Everything
else is the full command line (clients/cli/main.py).
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["service"]:
        from clients.cli.service import service_app

        service_app(args=sys.argv[2:], prog_name="regie service")
        return
    from clients.cli.main import app

    app()
