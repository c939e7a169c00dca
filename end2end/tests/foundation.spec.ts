import { test, expect, type Page } from "@playwright/test";

// Every `.wasm` path the page asks for from now on, in order (a list that fills as it goes).
function wasmRequests(page: Page): string[] {
  const fetched: string[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith(".wasm")) fetched.push(path);
  });
  return fetched;
}

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the home page is rendered on the server with the order count", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Find an order" })).toBeVisible();
    const count = page.locator("[data-count]");
    await expect(count).toBeVisible();
    expect(Number(await count.getAttribute("data-count"))).toBeGreaterThan(1000);
    await expect(page.getByTestId("recent-order").first()).toBeVisible();
  });

  test("search is a plain GET form that works without JavaScript", async ({ page }) => {
    await page.goto("/");
    // The order's name (its BB number, or its ORD ID) and its address (by order_id).
    const link = page.getByTestId("recent-order").first().locator("a");
    const id = (await link.textContent())!.trim();
    const href = (await link.getAttribute("href"))!;
    await page.locator("#main-search").fill(`  #${id} `);
    await page.locator("#main-search").press("Enter");
    // One match: the server answers the GET form with a redirect to the order.
    await expect(page).toHaveURL(new RegExp(`${href}$`));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(id);
  });
});

test("the app hydrates: the theme toggle works in the browser", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const html = page.locator("html");
  await expect(html).not.toHaveClass(/dark/);
  await page.getByRole("button", { name: "Toggle dark mode" }).click();
  await expect(html).toHaveClass(/dark/);
  await page.reload();
  await expect(html).toHaveClass(/dark/); // the choice is remembered
});

test("the back office's part of the bundle is fetched once, when first needed", async ({ page }) => {
  const fetched = wasmRequests(page);
  const nav = page.getByRole("navigation", { name: "Main" });
  const open = async (link: string, heading: string) => {
    await nav.getByRole("link", { name: link, exact: true }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(heading);
  };
  // A support agent's pages run on the main part alone, and do not ask for the other.
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.locator('link[rel="preload"][href*="split_view_of"]')).toHaveCount(0);
  await open("Orders", "Orders");
  expect(fetched).toHaveLength(1);
  expect(fetched[0]).toMatch(/^\/pkg\/orderdesk\.[^/]+\.wasm$/);
  // The first back-office page brings its part; the next ones, and going back, bring nothing.
  await open("Counters", "Daily counters");
  expect(fetched.filter((p) => p.includes("split_view_of"))).toHaveLength(1);
  const withBackOffice = fetched.length;
  await open("Performance", "Database performance");
  await open("Orders", "Orders");
  await open("Counters", "Daily counters");
  expect(fetched).toHaveLength(withBackOffice);
  expect(fetched.filter((p, i) => fetched.indexOf(p) !== i)).toEqual([]);
});

test("a back-office page loaded first hydrates with its part, asked for at once", async ({ page }) => {
  const fetched = wasmRequests(page);
  await page.goto("/counters");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  // The page's head names its part, so the browser fetches it beside the main one; the
  // loader then takes that copy instead of asking again. (Leptos sometimes writes a link of
  // its own for it too: the browser fetches the one URL once all the same.)
  const preloads = await page.locator('link[rel="preload"][href*="split_view_of"]').evaluateAll((links) =>
    links.map((l) => l.getAttribute("href")),
  );
  expect(preloads.length).toBeGreaterThanOrEqual(1);
  for (const href of preloads) expect(href).toMatch(/^\/pkg\/split_view_of[^/]+\.wasm$/);
  expect(fetched.filter((p) => p.includes("split_view_of"))).toHaveLength(1);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Daily counters");
  // Live: a link navigates in the browser (a full load would forget the mark).
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Orders", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Orders");
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
});

test("a back-office part that fails to load (a deploy since, a dropped network) brings a fresh page, not a dead tab", async ({ page }) => {
  const nav = page.getByRole("navigation", { name: "Main" });
  // The part this tab's build names is gone until the tab loads a page afresh, as after a
  // deploy (its hashed name is old). Refused from the start: a copy the browser fetched
  // early (a preload link) must not stand in for it.
  let documents = 0;
  page.on("request", (r) => {
    if (r.resourceType() === "document") documents += 1;
  });
  let refused = 0;
  await page.route(/\/pkg\/split_view_of[^/]+\.wasm$/, async (route) => {
    if (documents > 1) return route.continue();
    refused += 1;
    await route.fulfill({ status: 404, body: "gone" });
  });
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  await nav.getByRole("link", { name: "Counters", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Daily counters");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  expect(refused).toBeGreaterThanOrEqual(1);
  expect(documents).toBe(2);
  // The page was loaded afresh (the tab's old state is gone) and is live: links navigate in place.
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBeUndefined();
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  await nav.getByRole("link", { name: "Performance", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Database performance");
  expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
  await expect(page.getByTestId("part-load-failed")).toHaveCount(0);
});

test("a back-office part that cannot be loaded at all is said so, with a reload link, after one reload", async ({ page }) => {
  await page.route(/\/pkg\/split_view_of[^/]+\.wasm$/, (route) => route.fulfill({ status: 404, body: "gone" }));
  let loads = 0;
  page.on("load", () => (loads += 1));
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Counters", exact: true }).click();
  const notice = page.getByTestId("part-load-failed");
  await expect(notice).toBeVisible();
  await expect(notice).toHaveAttribute("role", "alert");
  await expect(notice).toContainText("could not be loaded");
  await expect(notice.getByRole("link", { name: "Reload the page" })).toHaveAttribute("href", /\/counters$/);
  // The first load and one reload for the failed part; the second failure stays put.
  await expect.poll(() => loads).toBe(2);
  await expect(notice).toBeVisible();
  expect(loads).toBe(2);
  await expect(page).toHaveURL(/\/counters$/);
  await expect(page.locator("body[data-hydrated]")).toHaveCount(0);
});

test("the tab shows orderdesk's icon, on the sign-in page too", async ({ page, playwright, baseURL }) => {
  await page.goto("/");
  await expect(page.locator('link[rel="icon"]')).toHaveAttribute("href", "/favicon.svg");
  const anonymous = await playwright.request.newContext({ baseURL });
  const icon = await anonymous.get("/favicon.svg");
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/svg+xml");
  expect(await (await anonymous.get("/login")).text()).toContain('rel="icon" href="/favicon.svg"');
  await anonymous.dispose();
});

test("dark mode follows the system setting", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto("/");
  await expect(page.locator("html")).toHaveClass(/dark/);
});

test("a search round-trips through the server function after hydration", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const id = (await page.getByTestId("recent-order").nth(1).locator("a").textContent())!.trim();
  const serverFn = page.waitForResponse((r) => r.url().includes("/api/staff/search") && r.status() === 200);
  await page.locator("#header-search").fill(id.toLowerCase());
  await page.locator("#header-search").press("Enter");
  await serverFn;
  await expect(page).toHaveURL(new RegExp(`/orders/${id}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(id);
});

test("input that is no ID gets a clear message", async ({ page }) => {
  await page.goto("/search?q=" + encodeURIComponent("'; db.dropDatabase()"));
  await expect(page.getByRole("alert")).toContainText("is not an order ID");
});

test("an unknown display ID says how it was read", async ({ page }) => {
  const response = await page.goto("/search?q=%23ord-000000");
  expect(response!.status()).toBe(200);
  await expect(page.getByTestId("no-match")).toContainText("display ID");
});

test("/healthz answers and /readyz reports a reachable database, status only", async ({ request }) => {
  const live = await request.get("/healthz");
  expect(live.status()).toBe(200);
  expect(await live.json()).toEqual({ status: "ok" });
  const ready = await request.get("/readyz");
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toEqual({ status: "ready" });
});

test("unknown pages are a 404 with a way back", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response!.status()).toBe(404);
  await expect(page.getByRole("link", { name: "Go to search" })).toBeVisible();
});

test("pages hydrate under the Content-Security-Policy and the browser reports no violation", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (msg) => {
    if (/Content Security Policy|Refused to (execute|load|apply|connect)/i.test(msg.text())) violations.push(msg.text());
  });
  for (const path of ["/", "/orders", "/counters", "/performance", "/failures?days=7"]) {
    const response = await page.goto(path);
    const csp = response!.headers()["content-security-policy"];
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'nonce-[^']+'/);
    await expect(page.locator("body[data-hydrated]")).toBeAttached();
  }
  expect(violations).toEqual([]);
});
