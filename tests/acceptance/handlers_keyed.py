"""Handlers for the concurrency-limit acceptance test: a map step whose tasks
share the concurrency key "acceptance.api" and each sleep a little, loaded by
worker processes (``htdag worker tests/acceptance/handlers_keyed.py``)."""

from __future__ import annotations

import asyncio
import os

import htdag

KEY = "acceptance.api"

keyed_flow = htdag.Flow("acceptance.keyed")


@keyed_flow.step(map=True, concurrency_key=KEY)
async def call_api(item: float) -> int:
    await asyncio.sleep(item)
    return os.getpid()
