"""Drives Kryton's MCP server with the official Python SDK (`mcp`, unmodified).

crates/kryton-server/tests/mcp.rs runs this script: it reads a plan (JSON) on stdin, runs each
step with the SDK's `Client`, and prints one JSON report on stdout. The Rust test decides what to
call and asserts what came back; this script only translates.

Usage:
  driver.py http URL KEY [MODE]       Streamable HTTP with `Authorization: Bearer KEY`
  driver.py stdio KRYTON URL KEY [MODE]  `KRYTON mcp --url URL` over stdio, KRYTON_TOKEN=KEY
MODE is the SDK's connect mode: "auto" (default: server/discover, 2026 protocol) or "legacy"
(the initialize handshake).

A plan is a list of steps: {"op": "list_tools"}, {"op": "list_resources"},
{"op": "list_resource_templates"}, {"op": "read_resource", "uri": ...},
{"op": "call", "tool": ..., "args": {...}}. A string argument "$ref:N/json/pointer" is replaced
by that part of step N's answer (e.g. "$ref:3/structured/etag").
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


def resolve(value, answers):
    if isinstance(value, str) and value.startswith("$ref:"):
        index, _, pointer = value[len("$ref:"):].partition("/")
        node = answers[int(index)]
        for part in pointer.split("/") if pointer else []:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node
    if isinstance(value, dict):
        return {k: resolve(v, answers) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, answers) for v in value]
    return value


def leaves(error):
    """The innermost exceptions of (nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def describe(error):
    """An exception with the JSON-RPC error data the SDK attached (e.g. the HTTP status)."""
    text = f"{type(error).__name__}: {error}"
    data = getattr(getattr(error, "error", None), "data", None)
    return f"{text} {json.dumps(data)}" if data is not None else text


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def run_step(client, step, answers):
    op = step["op"]
    if op == "list_tools":
        return dump(await client.list_tools(cache_mode="refresh"))
    if op == "list_resources":
        return dump(await client.list_resources(cache_mode="refresh"))
    if op == "list_resource_templates":
        return dump(await client.list_resource_templates(cache_mode="refresh"))
    if op == "read_resource":
        return dump(await client.read_resource(step["uri"], cache_mode="refresh"))
    if op == "call":
        result = await client.call_tool(step["tool"], resolve(step.get("args", {}), answers))
        text = "".join(getattr(block, "text", "") for block in result.content)
        return {"isError": result.is_error, "structured": result.structured_content, "text": text}
    raise ValueError(f"unknown op {op}")


async def main():
    argv = sys.argv[1:]
    transport = argv[0]
    if transport == "http":
        url, key = argv[1], argv[2]
        mode = argv[3] if len(argv) > 3 else "auto"
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60)
        server = streamable_http_client(url, http_client=http)
    elif transport == "stdio":
        kryton, url, key = argv[1], argv[2], argv[3]
        mode = argv[4] if len(argv) > 4 else "auto"
        server = StdioServerParameters(command=kryton, args=["mcp", "--url", url], env={"KRYTON_TOKEN": key})
    else:
        raise SystemExit(f"unknown transport {transport}")
    plan = json.load(sys.stdin)
    report = {"steps": []}
    try:
        async with Client(server, mode=mode) as client:
            info = client.server_info
            report["protocolVersion"] = client.protocol_version
            report["serverInfo"] = dump(info) if info is not None else None
            report["instructions"] = client.instructions
            report["capabilities"] = dump(client.server_capabilities)
            for step in plan:
                try:
                    report["steps"].append(await run_step(client, step, report["steps"]))
                except Exception as error:  # a protocol error: recorded, the plan goes on
                    report["steps"].append({"protocolError": f"{type(error).__name__}: {error}"})
    except BaseException as error:  # connecting failed (bad key, ...): what the SDK said
        report["connectError"] = "; ".join(describe(e) for e in leaves(error))
    print(json.dumps(report))


asyncio.run(main())
