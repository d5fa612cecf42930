#!/bin/sh
# Regie container entry point: apply migrations, then serve as PID 1 (exec), so that
# `docker stop` (SIGTERM) reaches uvicorn, which shuts down gracefully.
#   no arguments, or arguments starting with "-"  ->  regie migrate && exec regie serve ARGS
#   any other command                              ->  run as given (e.g. `regie keys status`)
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    regie migrate
    exec regie serve "$@"
fi

exec "$@"
