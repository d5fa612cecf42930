"""A diagnostic server factory for tests/perf/grant_bench.py (`run --threads N`), not used by Regie.

The app of `api.main.app_from_environment`, unchanged, except that anyio's default thread
limiter (the threadpool FastAPI runs `def` endpoints, sync dependencies and
`run_in_threadpool` calls in; 40 tokens by default) gets $GRANT_BENCH_THREADS tokens when the
app starts. It shows how much of a request's cost is threads handing work and the GIL to each
other. Run as: uvicorn --factory grant_bench_app:app_with_thread_limit --app-dir tests/perf
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from api.main import app_from_environment


def app_with_thread_limit() -> FastAPI:
    app = app_from_environment()
    tokens = int(os.environ["GRANT_BENCH_THREADS"])
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = tokens
        async with inner(a) as state:
            yield state

    app.router.lifespan_context = lifespan
    return app
