// Drives Kryton's MCP server with the official TypeScript SDK (@modelcontextprotocol/sdk, unmodified).
//
// crates/kryton-server/tests/mcp.rs runs it: `node driver.mjs URL KEY`, a plan (JSON) on stdin, one
// JSON report on stdout. Same plan format as ../mcp-py/driver.py: list_tools, list_resources,
// list_resource_templates, read_resource {uri}, call {tool, args}; "$ref:N/json/pointer" strings
// are replaced by that part of step N's answer.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, key] = process.argv.slice(2);

function resolve(value, answers) {
  if (typeof value === "string" && value.startsWith("$ref:")) {
    const [index, ...pointer] = value.slice(5).split("/");
    return pointer.reduce((node, part) => node[part], answers[Number(index)]);
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, answers));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, answers)]));
  }
  return value;
}

async function runStep(client, step, answers) {
  switch (step.op) {
    case "list_tools":
      return await client.listTools();
    case "list_resources":
      return await client.listResources();
    case "list_resource_templates":
      return await client.listResourceTemplates();
    case "read_resource":
      return await client.readResource({ uri: step.uri });
    case "call": {
      const result = await client.callTool({ name: step.tool, arguments: resolve(step.args ?? {}, answers) });
      const text = (result.content ?? []).map((c) => c.text ?? "").join("");
      return { isError: result.isError ?? false, structured: result.structuredContent ?? null, text };
    }
    default:
      throw new Error(`unknown op ${step.op}`);
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const plan = await readStdin();
const report = { steps: [] };
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: "kryton-tests", version: "1.0.0" });
try {
  await client.connect(transport);
  report.protocolVersion = transport.protocolVersion ?? null;
  report.serverInfo = client.getServerVersion() ?? null;
  report.capabilities = client.getServerCapabilities() ?? null;
  report.instructions = client.getInstructions() ?? null;
  for (const step of plan) {
    try {
      report.steps.push(await runStep(client, step, report.steps));
    } catch (error) {
      report.steps.push({ protocolError: String(error?.message ?? error) });
    }
  }
  await client.close();
} catch (error) {
  report.connectError = String(error?.message ?? error);
}
process.stdout.write(JSON.stringify(report) + "\n");
