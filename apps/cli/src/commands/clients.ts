import type { Command } from "commander";
import { clientId, integer, quota } from "../args.ts";
import { confirm } from "../confirm.ts";
import { contextOf } from "../context.ts";
import { fields, note, print, printJson, table } from "../output.ts";

/** The contract's Client (GET /api/clients…); the key never appears in it. */
interface Client {
  client_id: string;
  name: string;
  email: string;
  created_at: string;
  rate_limit_per_hour: number | null;
  revoked_at: string | null;
  key_created_at: string;
}

interface ClientList {
  data: Client[];
  next_cursor?: string;
}

interface Registered {
  client_id: string;
  name: string;
  email: string;
  api_key: string;
  created_at: string;
}

interface RotatedKey {
  api_key: string;
  key_created_at: string;
  previous_key_expires_at: string;
}

const KEY_WARNING =
  "warning: the API key is shown this once and cannot be read again; store it now (a secret manager, not a shell history)";

const quotaText = (value: number | null): string => (value === null ? "default" : String(value));

const printClient = (client: Client): void =>
  print(
    fields([
      ["client_id", client.client_id],
      ["name", client.name],
      ["email", client.email],
      ["quota/hour", quotaText(client.rate_limit_per_hour)],
      ["created_at", client.created_at],
      ["key_created_at", client.key_created_at],
      ["revoked_at", client.revoked_at],
    ]),
  );

const path = (id: string, tail = ""): string => `/api/clients/${encodeURIComponent(id)}${tail}`;

export const clientsCommand = (program: Command): void => {
  const clients = program.command("clients").description("list, inspect, create and change clients (admin)");

  clients
    .command("list")
    .description("list clients, newest first (GET /api/clients)")
    .option("-q, --query <text>", "a name prefix or a whole email, case-insensitive")
    .option("--limit <n>", "clients per page, 1..1000", integer(1, 1000), 100)
    .option("--cursor <cursor>", "the page after a previous one (printed at the end of the table)")
    .addHelpText("after", "\nExample:\n  usagectl clients list --query acme --limit 20")
    .action(async (options: { query?: string; limit: number; cursor?: string }, command: Command) => {
      const { api, json } = contextOf(command);
      const query = new URLSearchParams({ limit: String(options.limit) });
      if (options.query !== undefined) query.set("q", options.query);
      if (options.cursor !== undefined) query.set("cursor", options.cursor);
      const { body } = await api.send<ClientList>("GET", `/api/clients?${query}`);
      if (json) return printJson(body);
      print(
        table(
          ["CLIENT_ID", "NAME", "EMAIL", "QUOTA/H", "CREATED", "REVOKED"],
          body.data.map((c) => [c.client_id, c.name, c.email, quotaText(c.rate_limit_per_hour), c.created_at, c.revoked_at]),
        ),
      );
      if (typeof body.next_cursor === "string") note(`more: usagectl clients list --cursor ${body.next_cursor}`);
    });

  clients
    .command("show")
    .description("one client (GET /api/clients/{id})")
    .argument("<client-id>", "the client's id", clientId)
    .addHelpText("after", "\nExample:\n  usagectl clients show $ID")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const { body } = await api.send<Client>("GET", path(id));
      if (json) return printJson(body);
      printClient(body);
    });

  clients
    .command("create")
    .description("register a client (POST /api/register); prints its API key once")
    .requiredOption("--name <name>", "the client's name, 1..100 characters")
    .requiredOption("--email <email>", "its email (unique, case-insensitive)")
    .addHelpText("after", '\nExample:\n  usagectl clients create --name "Acme" --email ops@acme.test')
    .action(async (options: { name: string; email: string }, command: Command) => {
      const { api, json } = contextOf(command);
      const { body } = await api.send<Registered>("POST", "/api/register", { body: options, auth: false });
      if (json) printJson(body);
      else
        print(
          fields([
            ["client_id", body.client_id],
            ["name", body.name],
            ["email", body.email],
            ["created_at", body.created_at],
            ["api_key", body.api_key],
          ]),
        );
      note(KEY_WARNING);
    });

  clients
    .command("quota")
    .description("set a client's hourly hit quota (PATCH /api/clients/{id}); 0 blocks every hit")
    .argument("<client-id>", "the client's id", clientId)
    .argument("<n|default>", "hits per hour (0..1000000000), or 'default' for RATE_LIMIT_PER_HOUR", quota)
    .addHelpText("after", "\nExamples:\n  usagectl clients quota $ID 50000\n  usagectl clients quota $ID default")
    .action(async (id: string, limit: number | null, _options: unknown, command: Command) => {
      const { api, json } = contextOf(command);
      const { body } = await api.send<Client>("PATCH", path(id), { body: { rate_limit_per_hour: limit } });
      if (json) printJson(body);
      else printClient(body);
      if (limit === 0) note("note: a quota of 0 blocks every hit of this client (429)");
    });

  clients
    .command("rotate")
    .description("issue a new API key (POST /api/clients/{id}/keys); the old one works --grace more seconds")
    .argument("<client-id>", "the client's id", clientId)
    .option("--grace <seconds>", "how long the previous key keeps working, 0..86400", integer(0, 86_400), 0)
    .option("-y, --yes", "do not ask for confirmation (required without a terminal)")
    .addHelpText(
      "after",
      "\nA leaked key: rotate with --grace 0 (the default), so the leaked key dies at once.\n" +
        "A planned rotation: --grace 3600 gives the client an hour to deploy the new key.\n\n" +
        "Example:\n  usagectl clients rotate $ID --grace 3600 --yes",
    )
    .action(async (id: string, options: { grace: number; yes?: boolean }, command: Command) => {
      const { api, json } = contextOf(command);
      const when = options.grace === 0 ? "at once" : `in ${options.grace} s`;
      await confirm(`Rotate the API key of client ${id}? Its current key stops working ${when}.`, options.yes, "rotate the key");
      const { body } = await api.send<RotatedKey>("POST", path(id, "/keys"), { body: { grace_seconds: options.grace } });
      if (json) printJson(body);
      else
        print(
          fields([
            ["api_key", body.api_key],
            ["key_created_at", body.key_created_at],
            ["previous_key_expires_at", body.previous_key_expires_at],
          ]),
        );
      note(KEY_WARNING);
    });

  clients
    .command("revoke")
    .description("revoke a client (POST /api/clients/{id}/revoke): every key and token answers 401, its streams close")
    .argument("<client-id>", "the client's id", clientId)
    .option("-y, --yes", "do not ask for confirmation (required without a terminal)")
    .addHelpText(
      "after",
      "\nRevoking is final (there is no un-revoke); stored hits stay counted.\n\nExample:\n  usagectl clients revoke $ID --yes",
    )
    .action(async (id: string, options: { yes?: boolean }, command: Command) => {
      const { api, json } = contextOf(command);
      await confirm(`Revoke client ${id}? Every key and token of it stops working at once, for good.`, options.yes, "revoke the client");
      const { body } = await api.send<Client>("POST", path(id, "/revoke"));
      if (json) return printJson(body);
      printClient(body);
    });
};
