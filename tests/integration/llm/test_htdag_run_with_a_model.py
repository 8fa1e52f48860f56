"""``htdag run --model openai/scripted --api-base URL "<goal>"`` end to end in a
subprocess: the local server plans the goal (after one repair), the plan's llm
task is answered by the same server, and the run completes on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import psycopg
from _openai_server import ScriptedOpenAIServer

GOAL = "write a haiku about postgres"
HAIKU = "Rows rest in the heap / a WAL record hums at dawn / vacuum sweeps the leaves"
PLAN = {"tasks": [{"id": "haiku", "kind": "task", "handler": "llm",
                   "description": "Write a haiku about postgres",
                   "params": {"complexity": "simple"}, "depends_on": [], "map_over": ""}],
        "output": "haiku"}


def answer(body: dict[str, Any]) -> str:
    """Plans for the decomposer's requests, the haiku for the llm task's."""
    system = body["messages"][0]["content"] if body["messages"] else ""
    return json.dumps(PLAN) if "You plan work" in system else HAIKU


def htdag(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HTDAG_LLM") and k != "OPENAI_API_KEY"}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return subprocess.run([sys.executable, "-m", "htdag.cli", *args], capture_output=True,
                          text=True, timeout=120, env=env, check=False)


def test_htdag_run_plans_with_the_model_and_completes_the_run(dsn: str) -> None:
    unknown = PLAN | {"tasks": [PLAN["tasks"][0] | {"handler": "poet"}]}
    with ScriptedOpenAIServer([json.dumps(unknown)], fallback=answer) as server:
        done = htdag("--url", dsn, "run", "--model", "openai/scripted", "--api-base",
                     server.url, "--no-timeline", GOAL)
    assert done.returncode == 0, done.stderr
    assert "planned 'write a haiku about postgres' with llm: 1 tasks" in done.stdout
    assert HAIKU in done.stdout  # the result: the llm task's answer
    # Two planning requests (the first plan called an unknown handler), one llm task.
    systems = [r.messages[0]["content"] for r in server.requests]
    assert [("You plan work" in s) for s in systems] == [True, True, False]
    assert "'poet' is not in the catalogue" in server.requests[1].last_user_message
    assert all(r.path == "/v1/chat/completions" for r in server.requests)

    with psycopg.connect(dsn) as conn:
        row = conn.execute("select d.goal, d.decomposer, d.model, d.attempts, d.prompt_tokens,"
                           " r.status::text from htdag.decompositions d"
                           " join htdag.runs r using (run_id)").fetchone()
    assert row == (GOAL, "llm", "openai/scripted", 2, 240, "completed")


def test_htdag_run_with_a_model_litellm_does_not_know_fails_before_any_run(dsn: str) -> None:
    done = htdag("--url", dsn, "run", "--model", "gpt-4o-mny", GOAL)
    assert done.returncode == 2
    assert "htdag: litellm does not know the model 'gpt-4o-mny'" in done.stderr
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from htdag.runs").fetchone() == (0,)
