import { request } from "@playwright/test";
import { DEMO } from "./auth";

// Waits for the server under test to be ready (/readyz: its database answers), so tests never
// race its start-up, then signs in once per role through the real form and keeps the cookies
// for the tests.
async function waitUntilReady(base: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
      last = `HTTP ${res.status}: ${await res.text()}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`orderdesk at ${base} did not become ready within 60 s (last: ${last})`);
}

export default async function globalSetup(): Promise<void> {
  const base = process.env.BASE_URL ?? "http://127.0.0.1:3000";
  await waitUntilReady(base);
  // The second server, reading two sources (sources.spec.ts), when scripts/test started one.
  if (process.env.SOURCES_URL) await waitUntilReady(process.env.SOURCES_URL);
  for (const who of [DEMO.admin, DEMO.support]) {
    const context = await request.newContext({ baseURL: base });
    const form = await (await context.get("/login")).text();
    const token = /name="_csrf" value="([0-9a-f]+)"/.exec(form)?.[1];
    if (!token) throw new Error(`the sign-in form has no token:\n${form}`);
    const res = await context.post("/auth/login", {
      form: { email: who.email, password: who.password, _csrf: token, next: "/" },
      maxRedirects: 0,
    });
    if (res.status() !== 303) throw new Error(`signing in as ${who.email} answered ${res.status()}: ${await res.text()}`);
    await context.storageState({ path: who.state });
    await context.dispose();
  }
}
