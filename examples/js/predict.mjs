#!/usr/bin/env node
// Deterministic actions of a stable-baselines-io agent file, in plain Node (no dependencies).
//
//   node predict.mjs AGENT.zip OBSERVATIONS.json     # or: ... AGENT.zip < OBSERVATIONS.json
//
// OBSERVATIONS.json is a JSON list of observations; the output is the JSON list of their actions.
import { readFileSync } from "node:fs";
import { readAgent } from "./archive.mjs";
import { makePolicy } from "./policy.mjs";

function main([agentPath, observationsPath]) {
  if (!agentPath) throw new Error("usage: node predict.mjs AGENT.zip [OBSERVATIONS.json]  (observations on stdin by default)");
  const policy = makePolicy(readAgent(readFileSync(agentPath), agentPath));
  const observations = JSON.parse(readFileSync(observationsPath ?? 0, "utf8"));
  if (!Array.isArray(observations)) throw new Error("expected a JSON list of observations");
  process.stdout.write(JSON.stringify(observations.map(policy)) + "\n");
}

try {
  main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`predict.mjs: error: ${error.message}\n`);
  process.exit(2);
}
