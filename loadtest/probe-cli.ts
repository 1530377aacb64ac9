import { probeLatency } from "./lib/probe.ts";

/** `node loadtest/probe-cli.ts URL AUTH PER_SECOND SECONDS`: a latency probe in a process of its own. */
const [url = "", auth = "", perSecond = "100", seconds = "10"] = process.argv.slice(2);
const result = await probeLatency(url, auth === "" ? {} : { authorization: auth }, Number(perSecond), Number(seconds));
process.stdout.write(`${JSON.stringify(result)}\n`);
