"""Reference workflow: messages routed between registered agents, validated,
delivered and acknowledged; a lost acknowledgement is redelivered, and the
message is still processed once.

    python examples/agent_coordination.py "durable agent systems"

Design
------
*Agents* are registered by name in an :class:`AgentRegistry`, each with the
pydantic schema of the messages it accepts and a handler (async, or a quick
sync function) that takes the validated body and the :class:`Message` and
returns an :class:`AgentReply`: some content, and messages to send on.

A run of the flow ``example.agent_coordination`` delivers a batch of messages:

``route``
    checks every message: the envelope (:class:`Message`), a unique id, a
    registered sender and recipient, a body the recipient's schema accepts, at
    most ``max_hops`` hops. A bad message is rejected with its reason, never
    delivered, and never retried (the same message would fail again); the
    others go on. Input that is not a list of messages fails the run at once
    (:class:`InvalidMessages`, a NonRetryableError).
``deliver``
    a map step, one task per message, so one slow or failing agent holds up
    only its own messages. Delivery goes through the :class:`Mailbox`, a
    PostgreSQL table keyed by the message id (the idempotency key: stable
    across redeliveries, and derived for messages sent on). In one transaction
    it inserts the message or, if it is there, locks it and counts a further
    delivery; a message already processed returns its stored reply, anything
    else calls the agent and stores the reply with the message. The task's
    completion in htdag is the acknowledgement.
``forward``
    messages the agents send on become the next round: a child run of the
    same flow, which this task waits for without holding a worker slot.
``report``
    the acknowledgements and rejections of this round and the rounds after it.

Why a lost acknowledgement cannot cause a second processing: htdag delivers
at least once. If the acknowledgement is lost after the mailbox committed (an
error after the commit, a worker that dies or stops heartbeating before it
reports), the task is retried or, once its lease expires, claimed by another
worker, and delivered again: the mailbox finds the reply it stored and returns
it without calling the agent. If the worker dies before the commit, nothing was
stored and the redelivery is the first processing. Two deliveries at once
serialize on the message's row lock. A child run started twice (the forward
step retried) delivers messages whose ids the mailbox knows. So each message's
effect, the agent's reply and the messages it sends on, happens once; an agent
with effects outside the mailbox makes them idempotent by ``message.id``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import htdag
from htdag import Flow, NonRetryableError, TaskContext
from htdag.errors import HtdagError

FLOW_NAME = "example.agent_coordination"


class InvalidMessages(NonRetryableError):
    """The run's input is not a list of messages: pass [{"id", "sender", "recipient", "body"}]."""


class UnknownAgentError(HtdagError, LookupError):
    """No agent is registered under that name: register it with AgentRegistry.agent."""


class AgentRegistrationError(HtdagError, ValueError):
    """An agent cannot be registered as given."""


class Message(BaseModel):
    """One message from an agent to another. ``id`` is its idempotency key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=200)
    sender: str = Field(min_length=1)
    recipient: str = Field(min_length=1)
    kind: str = "message"
    body: dict[str, Any] = {}
    hops: int = Field(default=0, ge=0)


class Outgoing(BaseModel):
    """A message an agent sends on; its id is derived from the message replied to."""

    model_config = ConfigDict(extra="forbid")
    recipient: str
    kind: str = "message"
    body: dict[str, Any] = {}


class AgentReply(BaseModel):
    """What an agent answers: content for the report, and messages to send on."""

    model_config = ConfigDict(extra="forbid")
    content: Any = None
    send: list[Outgoing] = []


AgentHandler = Callable[[Any, Message], "AgentReply | dict[str, Any] | Awaitable[Any]"]
H = TypeVar("H", bound=AgentHandler)


@dataclass(frozen=True)
class Agent:
    name: str
    schema: type[BaseModel]
    handler: AgentHandler

    async def handle(self, message: Message) -> AgentReply:
        """The agent's reply to ``message`` (whose body its schema accepted)."""
        result = self.handler(self.schema.model_validate(message.body), message)
        if inspect.isawaitable(result):
            result = await result
        return result if isinstance(result, AgentReply) else AgentReply.model_validate(result)


class AgentRegistry:
    """Agents by name: who messages may be routed to, and what they accept."""

    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}

    def register(self, name: str, schema: type[BaseModel], handler: AgentHandler) -> Agent:
        """Registers ``handler(body, message) -> AgentReply`` as ``name``; its
        messages' bodies must pass ``schema``."""
        if name in self._agents:
            raise AgentRegistrationError(f"an agent is already registered as {name!r}; "
                                         "choose another name")
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise AgentRegistrationError(f"agent {name!r}: the schema must be a pydantic "
                                         f"model class, not {schema!r}")
        agent = self._agents[name] = Agent(name, schema, handler)
        return agent

    def agent(self, name: str, schema: type[BaseModel]) -> Callable[[H], H]:
        """Decorator form of :meth:`register`."""
        def register(handler: H) -> H:
            self.register(name, schema, handler)
            return handler
        return register

    def __iter__(self) -> Iterator[Agent]:
        return iter(list(self._agents.values()))

    def get(self, name: str) -> Agent:
        try:
            return self._agents[name]
        except KeyError:
            raise UnknownAgentError(f"no agent is registered as {name!r}; registered: "
                                    f"{sorted(self._agents)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def screen(self, raw: Any, max_hops: int) -> tuple[Message | None, str | None]:
        """The message, or None and why it cannot be delivered."""
        try:
            message = Message.model_validate(raw)
        except ValidationError as exc:
            return None, f"not a message: {_errors(exc)}"
        for role, name in (("sender", message.sender), ("recipient", message.recipient)):
            if name not in self._agents:
                return None, f"unknown {role} {name!r}"
        if message.hops > max_hops:
            return None, f"{message.hops} hops, over the limit of {max_hops}"
        try:
            self._agents[message.recipient].schema.model_validate(message.body)
        except ValidationError as exc:
            return None, f"{message.recipient} does not accept this body: {_errors(exc)}"
        return message, None


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
                     for e in exc.errors())


class Mailbox:
    """Delivered messages and their replies, in a PostgreSQL table keyed by the
    message id: a message is processed once however often it is delivered.
    Call :meth:`create` once before the first delivery."""

    def __init__(self, url: str, table: str = "htdag_example_agent_inbox") -> None:
        self.url = url
        self.table = sql.Identifier(table)

    async def create(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute(sql.SQL(
                "create table if not exists {} (message_id text primary key, sender text not "
                "null, recipient text not null, kind text not null, body jsonb not null, "
                "reply jsonb, deliveries int not null default 1, "
                "first_delivered_at timestamptz not null default now(), "
                "processed_at timestamptz)").format(self.table))

    async def deliver(self, message: Message, agent: Agent) -> dict[str, Any]:
        """Delivers ``message`` to ``agent`` (or finds it processed): the ack."""
        async with await psycopg.AsyncConnection.connect(self.url) as conn, conn.transaction():
            cur = await conn.execute(sql.SQL(
                "insert into {t} as m (message_id, sender, recipient, kind, body) values "
                "(%s, %s, %s, %s, %s) on conflict (message_id) do update set deliveries = "
                "m.deliveries + 1 returning m.reply, m.deliveries").format(t=self.table),
                (message.id, message.sender, message.recipient, message.kind,
                 Jsonb(message.body)))
            row = await cur.fetchone()
            assert row is not None  # an upsert returns its row
            stored, deliveries = row
            if stored is None:
                reply = await agent.handle(message)
                stored = reply.model_dump(mode="json")
                await conn.execute(sql.SQL(
                    "update {} set reply = %s, processed_at = now() where message_id = %s"
                ).format(self.table), (Jsonb(stored), message.id))
        return {"message_id": message.id, "recipient": message.recipient, "status": "acked",
                "reply": stored["content"], "deliveries": deliveries,
                "send": [onward(message, i, Outgoing.model_validate(o)).model_dump()
                         for i, o in enumerate(stored["send"])]}

    async def rows(self) -> list[dict[str, Any]]:
        """Every delivered message, by id."""
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.SQL("select * from {} order by message_id").format(self.table))
            return await cur.fetchall()


def onward(message: Message, index: int, outgoing: Outgoing) -> Message:
    """The ``index``-th message an agent sends on after ``message``: its id is
    derived from the message's, so a second processing would send the same ids."""
    return Message(id=f"{message.id}/{index}", sender=message.recipient,
                   recipient=outgoing.recipient, kind=outgoing.kind, body=outgoing.body,
                   hops=message.hops + 1)


def build_flow(agents: AgentRegistry, mailbox: Mailbox, *, max_hops: int = 5,
               max_attempts: int = 5, base_delay: float = 0.5, max_delay: float = 30.0) -> Flow:
    """The flow route -> deliver (map) -> forward -> report; start runs of it
    with a list of messages."""
    flow = Flow(FLOW_NAME, output="report")
    retries: dict[str, Any] = {"max_attempts": max_attempts, "base_delay": base_delay,
                               "max_delay": max_delay}

    @flow.step(**retries)
    def route(inp: dict[str, Any]) -> list[dict[str, Any]]:
        raw = inp["run"]
        if not isinstance(raw, list):
            raise InvalidMessages(f"expected a list of messages, got {type(raw).__name__}")
        routed: list[dict[str, Any]] = []
        seen: set[str] = set()
        for item in raw:
            message, reason = agents.screen(item, max_hops)
            msg_id = item.get("id") if isinstance(item, dict) else None
            if message is not None and message.id in seen:
                message, reason = None, f"a second message with id {msg_id!r}"
            routed.append({"message": message.model_dump() if message else None,
                           "message_id": msg_id, "reason": reason})
            if message is not None:
                seen.add(message.id)
        return routed

    @flow.step(depends_on=["route"], map=True, **retries)
    async def deliver(item: dict[str, Any]) -> dict[str, Any]:
        if item["message"] is None:
            return {"message_id": item["message_id"], "status": "rejected",
                    "reason": item["reason"]}
        message = Message.model_validate(item["message"])
        return await mailbox.deliver(message, agents.get(message.recipient))

    @flow.step(depends_on=["deliver"], **retries)
    async def forward(inp: dict[str, Any], ctx: TaskContext) -> Any:
        outgoing = [m for ack in inp["deliver"] for m in ack.get("send", [])]
        if not outgoing:
            return {"acks": [], "rejected": []}
        return await ctx.start_child_run(flow, outgoing)  # completes with the child's report

    @flow.step(depends_on=["deliver", "forward"], **retries)
    def report(inp: dict[str, Any]) -> dict[str, Any]:
        acks = [a for a in inp["deliver"] if a["status"] == "acked"]
        rejected = [a for a in inp["deliver"] if a["status"] == "rejected"]
        return {"acks": acks + inp["forward"]["acks"],
                "rejected": rejected + inp["forward"]["rejected"]}

    return flow


# A small team for the demo: a planner asks a researcher, who briefs a writer.

class Task(BaseModel):
    goal: str = Field(min_length=1)


class Research(BaseModel):
    topic: str
    angles: list[str]


class Draft(BaseModel):
    topic: str
    notes: list[str]


def demo_agents() -> AgentRegistry:
    agents = AgentRegistry()

    @agents.agent("user", Task)
    def user(body: Task, message: Message) -> AgentReply:
        return AgentReply(content="received")

    @agents.agent("planner", Task)
    def planner(body: Task, message: Message) -> AgentReply:
        angles = ["history", "design", "operations"]
        return AgentReply(content={"plan": angles}, send=[Outgoing(
            recipient="researcher", kind="research",
            body={"topic": body.goal, "angles": angles})])

    @agents.agent("researcher", Research)
    async def researcher(body: Research, message: Message) -> AgentReply:
        await asyncio.sleep(0.01)  # a tool call would go here
        notes = [f"{body.topic}: {angle}" for angle in body.angles]
        return AgentReply(content={"notes": len(notes)}, send=[Outgoing(
            recipient="writer", kind="draft", body={"topic": body.topic, "notes": notes})])

    @agents.agent("writer", Draft)
    def writer(body: Draft, message: Message) -> AgentReply:
        return AgentReply(content=f"On {body.topic}: " + "; ".join(body.notes))

    return agents


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("goal")
    args = parser.parse_args(argv)
    async with await htdag.aconnect() as engine:
        mailbox = Mailbox(engine.url)
        await mailbox.create()
        flow = build_flow(demo_agents(), mailbox)
        # A worker in this process until the engine closes.
        engine.start_local_worker(flow.name, engine.worker([flow], concurrency=4))
        first = {"id": f"demo-{uuid.uuid4().hex[:8]}", "sender": "user",
                 "recipient": "planner", "kind": "task", "body": {"goal": args.goal}}
        run = await engine.start(flow, [first])
        return dict(await run.wait(timeout=120))


if __name__ == "__main__":
    result = asyncio.run(main())
    for ack in result["acks"]:
        print(f"{ack['message_id']} -> {ack['recipient']}: {ack['reply']} "
              f"(deliveries {ack['deliveries']})")
    for nack in result["rejected"]:
        print(f"rejected {nack['message_id']}: {nack['reason']}")
