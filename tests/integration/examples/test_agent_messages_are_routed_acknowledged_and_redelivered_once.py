"""examples/agent_coordination.py: messages validated and routed between
registered agents, delivered through the mailbox and acknowledged; a lost
acknowledgement (an error after the mailbox's commit, or a worker whose
heartbeat stops before it reports) is redelivered and processed once."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import psycopg
import pytest

from examples.agent_coordination import (
    Agent,
    AgentRegistry,
    AgentReply,
    Mailbox,
    Message,
    Outgoing,
    Research,
    Task,
    build_flow,
    demo_agents,
    onward,
)
from htdag.core.engine import AsyncEngine
from htdag.errors import RunFailed

from .._support import Db, running_worker


def message(id: str, recipient: str = "planner", body: Any = None, sender: str = "user",
            **extra: Any) -> dict[str, Any]:
    return {"id": id, "sender": sender, "recipient": recipient,
            "body": {"goal": "queues"} if body is None else body, **extra}


class CountingAgents:
    """demo_agents() with every agent's calls counted by message id."""

    def __init__(self) -> None:
        self.registry = AgentRegistry()
        self.calls: Counter[str] = Counter()
        for agent in demo_agents():
            self.registry.register(agent.name, agent.schema, self._counted(agent))

    def _counted(self, agent: Agent) -> Any:
        async def handler(body: Any, msg: Message) -> AgentReply:
            self.calls[msg.id] += 1
            return await agent.handle(msg)
        return handler


@pytest.fixture
async def mailbox(dsn: str) -> Mailbox:
    box = Mailbox(dsn)
    await box.create()
    return box


async def deliver(engine: AsyncEngine, flow: Any, messages: Any) -> Any:
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, messages)
        return run.run_id, await run.wait(timeout=30)


async def test_a_message_is_routed_through_the_agents_and_each_hop_acknowledged(
        engine: AsyncEngine, mailbox: Mailbox) -> None:
    agents = CountingAgents()
    flow = build_flow(agents.registry, mailbox, base_delay=0.02)
    run_id, out = await deliver(engine, flow, [message("m1", body={"goal": "queues"})])

    assert [(a["message_id"], a["recipient"]) for a in out["acks"]] == [
        ("m1", "planner"), ("m1/0", "researcher"), ("m1/0/0", "writer")]
    assert out["acks"][2]["reply"] == ("On queues: queues: history; queues: design; "
                                       "queues: operations")
    assert out["rejected"] == []
    assert agents.calls == {"m1": 1, "m1/0": 1, "m1/0/0": 1}
    rows = await mailbox.rows()
    assert [(r["message_id"], r["sender"], r["recipient"], r["deliveries"]) for r in rows] == [
        ("m1", "user", "planner", 1), ("m1/0", "planner", "researcher", 1),
        ("m1/0/0", "researcher", "writer", 1)]
    assert all(r["processed_at"] is not None for r in rows)
    children = await engine.list_runs(parent_run_id=run_id)
    assert len(children) == 1  # the second round; the third is its child


async def test_invalid_messages_are_rejected_and_the_others_delivered(
        engine: AsyncEngine, mailbox: Mailbox) -> None:
    agents = CountingAgents()
    flow = build_flow(agents.registry, mailbox, base_delay=0.02, max_hops=0)
    batch = [
        message("ok", recipient="user"),
        message("nobody", recipient="ghost"),
        message("stranger", sender="ghost", recipient="user"),
        message("bad-body", recipient="researcher", body={"topic": "x"}),
        message("ok", recipient="user", body={"goal": "again"}),
        {"sender": "user", "recipient": "user", "body": {}},
        message("far", recipient="user", hops=1),
    ]
    _, out = await deliver(engine, flow, batch)
    assert [a["message_id"] for a in out["acks"]] == ["ok"]
    reasons = {r["message_id"]: r["reason"] for r in out["rejected"]}
    assert len(out["rejected"]) == 6
    assert reasons["nobody"] == "unknown recipient 'ghost'"
    assert reasons["stranger"] == "unknown sender 'ghost'"
    assert reasons["bad-body"].startswith("researcher does not accept this body: angles")
    assert reasons["ok"] == "a second message with id 'ok'"
    assert reasons[None].startswith("not a message: id: Field required")
    assert reasons["far"] == "1 hops, over the limit of 0"
    assert agents.calls == {"ok": 1}
    assert [r["message_id"] for r in await mailbox.rows()] == ["ok"]


async def test_input_that_is_not_a_list_of_messages_fails_at_once(
        engine: AsyncEngine, mailbox: Mailbox, db: Db) -> None:
    flow = build_flow(demo_agents(), mailbox, base_delay=0.02)
    with pytest.raises(RunFailed, match="expected a list of messages, got dict") as info:
        await deliver(engine, flow, {"id": "m1"})
    attempts = await db.attempts(info.value.run_id)
    assert [(a["step_name"], a["outcome"]) for a in attempts] == [("route", "failed")]


class AckLostOnce(Mailbox):
    """Processes and commits the first delivery of each message, then loses the
    acknowledgement: the error reaches the worker after the commit."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.lost: set[str] = set()

    async def deliver(self, message: Message, agent: Agent) -> dict[str, Any]:
        ack = await super().deliver(message, agent)
        if message.id not in self.lost:
            self.lost.add(message.id)
            raise ConnectionResetError("the acknowledgement was lost on the way")
        return ack


async def test_a_lost_acknowledgement_is_redelivered_and_processed_once(
        engine: AsyncEngine, dsn: str, db: Db) -> None:
    mailbox = AckLostOnce(dsn)
    await mailbox.create()
    agents = CountingAgents()
    flow = build_flow(agents.registry, mailbox, base_delay=0.02)
    run_id, out = await deliver(engine, flow, [message("m1")])

    assert [a["message_id"] for a in out["acks"]] == ["m1", "m1/0", "m1/0/0"]
    assert all(a["deliveries"] == 2 for a in out["acks"])  # each redelivered once
    assert agents.calls == {"m1": 1, "m1/0": 1, "m1/0/0": 1}  # and processed once
    assert [r["deliveries"] for r in await mailbox.rows()] == [2, 2, 2]
    delivers = [a for a in await db.attempts(run_id) if a["step_name"] == "deliver"]
    assert [a["outcome"] for a in delivers] == ["failed", "completed"]
    assert "acknowledgement was lost" in delivers[0]["error"]


class HangsAfterCommit(Mailbox):
    """The first delivery commits, then its worker does not report (as if it
    died) until ``wake`` is set."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.committed = asyncio.Event()
        self.wake = asyncio.Event()

    async def deliver(self, message: Message, agent: Agent) -> dict[str, Any]:
        ack = await super().deliver(message, agent)
        if not self.committed.is_set():
            self.committed.set()
            await self.wake.wait()
        return ack


async def test_a_worker_that_stops_heartbeating_before_acking_loses_the_message_to_another(
        engine: AsyncEngine, dsn: str, db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox = HangsAfterCommit(dsn)
    await mailbox.create()
    agents = AgentRegistry()
    calls: Counter[str] = Counter()

    @agents.agent("user", Task)
    def user(body: Task, msg: Message) -> AgentReply:
        calls[msg.id] += 1
        return AgentReply(content=f"got {body.goal}")

    flow = build_flow(agents, mailbox, base_delay=0.02)
    frozen = await AsyncEngine.connect(dsn, pool_size=2)

    async def partitioned(*args: Any) -> set[int]:
        raise psycopg.OperationalError("the network to the database is down")

    monkeypatch.setattr(frozen.store, "extend_leases", partitioned)
    try:
        async with running_worker(frozen, [flow], lease_seconds=1.0,
                                  shutdown_timeout=15) as first:
            run = await engine.start(flow, [message("m1", recipient="user")])
            await asyncio.wait_for(mailbox.committed.wait(), 10)
            first.stop()  # it claims nothing more; its heartbeats fail: its lease runs out
            async with running_worker(engine, [flow]) as second:
                out = await run.wait(timeout=20)
            mailbox.wake.set()  # the first worker's late acknowledgement is rejected
    finally:
        await frozen.close()

    [ack] = out["acks"]
    assert (ack["message_id"], ack["reply"], ack["deliveries"]) == ("m1", "got queues", 2)
    assert calls == {"m1": 1}
    [row] = await mailbox.rows()
    assert row["deliveries"] == 2
    delivers = [a for a in await db.attempts(run.run_id) if a["step_name"] == "deliver"]
    assert [(a["outcome"], a["worker_id"]) for a in delivers] == [
        ("lost", first.worker_id), ("completed", second.worker_id)]


def test_an_agent_is_registered_once_with_a_pydantic_schema() -> None:
    from examples.agent_coordination import AgentRegistrationError

    agents = demo_agents()
    with pytest.raises(AgentRegistrationError, match="already registered as 'planner'"):
        agents.register("planner", Task, lambda body, msg: {})
    with pytest.raises(AgentRegistrationError, match="must be a pydantic model class"):
        agents.register("other", dict, lambda body, msg: {})  # type: ignore[arg-type]


def test_messages_sent_on_get_ids_derived_from_the_message_replied_to() -> None:
    original = Message(id="m7", sender="user", recipient="planner", body={"goal": "x"}, hops=2)
    body = Research(topic="x", angles=[]).model_dump()
    sent = onward(original, 3, Outgoing(recipient="researcher", body=body))
    assert (sent.id, sent.sender, sent.recipient, sent.hops) == ("m7/3", "planner",
                                                                 "researcher", 3)
