import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, expectError, type GatewayHarness, hit, type TestClient, uniqueEmail } from "./helper.ts";

/** A registration body as bytes, with `name` spliced in raw: the bytes a client library would not send. */
const registration = (nameBytes: Buffer, email = uniqueEmail()): Buffer =>
  Buffer.concat([Buffer.from('{"name":"'), nameBytes, Buffer.from(`","email":"${email}"}`)]);

describe("text in JSON bodies is kept as sent or refused, never altered", () => {
  let gw: GatewayHarness;
  let client: TestClient;
  beforeAll(async () => {
    gw = await buildGateway({ REGISTER_LIMIT_PER_HOUR: "100000", RATE_LIMIT_PER_HOUR: "100000" });
    client = await gw.register();
  });
  afterAll(async () => gw.close());

  const register = (payload: string | Buffer, contentType = "application/json") =>
    gw.inject({ method: "POST", url: "/api/register", headers: { "content-type": contentType }, payload });
  const storedName = async (clientId: string) =>
    (await gw.db.selectFrom("clients").select("name").where("client_id", "=", clientId).executeTakeFirstOrThrow()).name;

  it("400 VALIDATION_ERROR to bytes that are not UTF-8, and nothing is stored", async () => {
    const invalid = {
      "a stray continuation byte": [0x80],
      "a byte UTF-8 never uses": [0xff],
      "an overlong slash": [0xc0, 0xaf],
      "a sequence cut short": [0xe2, 0x82],
      "a raw lone surrogate (CESU-8)": [0xed, 0xa0, 0x80],
      "a code point above U+10FFFF": [0xf4, 0x90, 0x80, 0x80],
      "Latin-1 é": [0xe9],
    };
    for (const [what, bytes] of Object.entries(invalid)) {
      const email = uniqueEmail();
      const response = await register(registration(Buffer.from([0x41, ...bytes, 0x42]), email));
      expectError(response, 400, "VALIDATION_ERROR");
      expect(response.json().message, what).toBe("body is not valid UTF-8");
    }
    const [{ count }] = (await gw.db
      .selectFrom("clients")
      .select((eb) => eb.fn.countAll<string>().as("count"))
      .execute()) as [{ count: string }];
    expect(Number(count)).toBe(1);
  });

  it("400 VALIDATION_ERROR to an escaped lone surrogate, wherever it is in the body", async () => {
    const lone = ["\\ud800", "\\uDBFF", "\\udc00", "x\\uD83D", "\\ude00\\ud83d", "\\ud83d\\ud83d\\ude00"];
    for (const text of lone) {
      const response = await register(`{"name":"${text}","email":"${uniqueEmail()}"}`);
      expectError(response, 400, "VALIDATION_ERROR");
      expect(response.json().message, text).toMatch(/lone UTF-16 surrogate/);
    }
    // In a key, and deep in a batch: the walk covers keys and every level.
    const inKey = await register(`{"name":"Key","email":"${uniqueEmail()}","\\udfff":1}`);
    expect(inKey.json().message).toMatch(/lone UTF-16 surrogate/);
    const hits = JSON.stringify({ hits: [hit(), hit({ endpoint: "/x-SURROGATE" })] }).replace("SURROGATE", "\\ud800");
    const batch = await gw.inject({
      method: "POST",
      url: "/api/logs/batch",
      headers: { "x-api-key": client.api_key, "content-type": "application/json" },
      payload: hits,
    });
    expectError(batch, 400, "VALIDATION_ERROR");
    expect(batch.json().message).toMatch(/lone UTF-16 surrogate/);
  });

  it("keeps valid text exactly: escaped pairs, raw UTF-8, and an escaped backslash before u", async () => {
    const cases: Array<[string, string]> = [
      ["\\ud83d\\ude00", "😀"],
      ["\\uD83D\\uDE00 and \\u00e9", "😀 and é"],
      ["Zoë 😀 日本 \u{10FFFF}", "Zoë 😀 日本 \u{10FFFF}"],
      ["\\\\ud800", "\\ud800"],
      ["\\uFFFD", "\uFFFD"],
    ];
    for (const [json, expected] of cases) {
      const response = await register(Buffer.from(`{"name":"${json}","email":"${uniqueEmail()}"}`));
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json().name).toBe(expected);
      expect(await storedName(response.json().client_id)).toBe(expected);
    }
  });

  it("415 UNSUPPORTED_MEDIA_TYPE to a JSON body declared in another charset", async () => {
    const latin1 = registration(Buffer.from([0x43, 0x61, 0x66, 0xe9]));
    for (const contentType of [
      "application/json; charset=latin1",
      "application/json; charset=ISO-8859-1",
      "application/json;charset=utf-16",
      'application/json; charset="windows-1252"',
      "application/json; charset=utf-7",
    ]) {
      expectError(await register(latin1, contentType), 415, "UNSUPPORTED_MEDIA_TYPE");
    }
  });

  it("reads a body declared UTF-8 in any spelling, or with no charset", async () => {
    for (const contentType of [
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=UTF-8",
      "application/json;charset=Utf-8",
      'application/json; charset="utf-8"',
      "application/json; charset=utf8",
      "Application/JSON; Charset=UTF-8",
    ]) {
      const response = await register(registration(Buffer.from("Café")), contentType);
      expect(response.statusCode, `${contentType}: ${response.body}`).toBe(201);
      expect(response.json().name).toBe("Café");
    }
  });

  it("still takes an empty or blank JSON body as no body", async () => {
    for (const payload of ["", " \r\n\t "]) {
      const response = await gw.inject({
        method: "POST",
        url: "/api/auth/token",
        headers: { "x-api-key": client.api_key, "content-type": "application/json" },
        payload,
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json().token_type).toBe("Bearer");
    }
  });
});
