import { paced } from "./lib/probe.ts";

/** `node loadtest/probe-cli.ts URL AUTH PER_SECOND SECONDS`: a read latency probe in a process of its own. */
const [url = "", auth = "", perSecond = "100", seconds = "10"] = process.argv.slice(2);
const result = await paced({
  url,
  variants: [{ headers: auth === "" ? {} : { authorization: auth } }],
  perSecond: Number(perSecond),
  durationS: Number(seconds),
  warmUp: 200,
});
process.stdout.write(`${JSON.stringify(result)}\n`);
