import { test, expect, request, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { DEMO } from "../auth";

// Issue #17: orders named as customers name them, the ID explainer, the counters an admin
// acts on, the command palette, and every page at three widths in both themes.

const bot = (baseURL: string | undefined) =>
  request.newContext({ baseURL, extraHTTPHeaders: { "X-API-Key": process.env.E2E_API_KEY ?? "" } });

test("marketplace orders are named by their BB number, with how the number reads", async ({ page }) => {
  await page.goto("/orders?source=marketplace");
  const first = page.getByTestId("order-row").first().locator("a").first();
  await expect(first).toHaveText(/^BB-\d{13}-[A-Z0-9]{4}-\d{5}$/);
  const name = (await first.textContent())!.trim();
  await first.click();
  await expect(page.getByTestId("order-name")).toHaveText(name);
  await expect(page).toHaveTitle(`${name} · orderdesk`);
  const explained = page.getByTestId("order-id-explained");
  await expect(explained).toContainText("ultra: 13-digit Unix time in milliseconds");
  await expect(explained).toContainText(`Daily sequence${Number(name.slice(-5))} of 99999`);
  // The counter it came from is one click away, and shows that vendor-day's numbers.
  await explained.getByRole("link").click();
  await expect(page).toHaveURL(/\/counters\/\d{8}-/);
  await expect(page.getByTestId("forensics-figures")).toContainText("Issued by the counter");
});

test("a typo'd ID gets a did-you-mean, and the near form finds the orders", async ({ page }) => {
  // O for 0: the demo's two orders share ORD-DEC0DE.
  await page.goto("/search?q=ORD-DECODE");
  const dym = page.getByTestId("did-you-mean");
  await expect(dym).toContainText("ORD-DEC0DE");
  await expect(dym).toContainText("a letter where a digit belongs");
  await dym.getByRole("link", { name: "ORD-DEC0DE" }).click();
  await expect(page.getByTestId("order-row")).toHaveCount(2);
  await expect(page.getByTestId("search-explained")).toContainText("16.7 million values");
  // A URL pasted whole.
  await page.goto(`/search?q=${encodeURIComponent("https://track.example.com/t/ORD-DEC0DE?ref=sms")}`);
  await expect(page.getByTestId("did-you-mean")).toContainText("found inside the pasted text");
  // A lost digit is read for what is left (the whole random part), saying what is missing.
  await page.goto("/search?q=ORD-2025111412345-a3f8d2b4");
  await expect(page.getByTestId("explanation")).toContainText("13 of 14 digits given, 1 missing");
  // One too many is named, not guessed.
  await page.goto("/search?q=ORD-202511141234567-a3f8d2b4");
  await expect(page.getByTestId("explain-hint")).toContainText("15 digits in its time where ORD IDs have 14");
});

test("the command palette jumps to pages and to orders; ? lists the shortcuts", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const palette = page.getByTestId("command-palette");
  await expect(palette).toBeHidden();
  await page.keyboard.press("Control+k");
  await expect(palette).toBeVisible();
  await expect(page.locator("#palette-input")).toBeFocused();
  await page.keyboard.type("count");
  await expect(page.getByTestId("palette-choice")).toHaveText(["Find order “count”", "Go to Counters"]);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/counters$/);
  await expect(palette).toBeHidden();
  // Pasting an ID: straight to the search, which lists the two orders sharing it.
  await page.keyboard.press("Control+k");
  await page.keyboard.type("#ORD-DEC0DE");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/search\?q=%23ORD-DEC0DE/);
  await expect(page.getByTestId("order-row")).toHaveCount(2);
  // ? opens the list of shortcuts, Escape closes it; the header button opens the palette.
  await page.locator("body").click();
  await page.keyboard.press("?");
  await expect(page.getByTestId("shortcut-help")).toBeVisible();
  await expect(page.getByTestId("shortcut-help")).toContainText("Command palette");
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("shortcut-help")).toBeHidden();
  await page.getByTestId("open-palette").click();
  await expect(palette).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(palette).toBeHidden();
});

test("today's counters forecast the cap, and a vendor-day's gaps are listed and exported", async ({ page, baseURL }) => {
  const api = await bot(baseURL);
  const vendor = `e2e-gaps-${Date.now()}`;
  // Three numbers drawn and no order stored with them (a bot that failed after drawing).
  let counter = "";
  for (let i = 0; i < 3; i++) {
    const drawn = await api.post(`/api/v1/vendors/${vendor}/order-numbers`, { data: { user_id: "user-0042" } });
    expect(drawn.status()).toBe(200);
    counter = (await drawn.json()).counter_id;
  }
  await page.goto("/counters");
  await expect(page.getByTestId("glance-busiest")).toContainText("Busiest in the last hour");
  await expect(page.getByTestId("glance-nearest-cap")).toContainText("Nearest to the daily cap");
  const row = page.locator(`[data-counter="${counter}"]`);
  await expect(row.getByTestId("forecast")).toContainText("not today");
  await row.getByRole("link", { name: counter }).click();
  await expect(page).toHaveURL(new RegExp(`/counters/${counter}$`));
  await expect(page.getByTestId("forensics-figures")).toContainText("Issued by the counter3");
  await expect(page.getByTestId("forensics-figures")).toContainText("Held by orders0");
  const gaps = page.getByTestId("gaps");
  await expect(gaps).toContainText("00001–00003");
  await expect(gaps).toContainText("drawn last, no order stored");
  const href = await page.getByTestId("gaps-csv").getAttribute("href");
  const csv = await page.request.get(href!);
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toBe(`counter_id,from,to,numbers,cause\n${counter},1,3,3,LastDrawn\n`);
  await api.dispose();
});

test.describe("as admin", () => {
  test.use({ storageState: DEMO.admin.state });

  test("each bot's key has a page that says whether it is failing and since when", async ({ page, baseURL }) => {
    // The demo's marketplace bot has failed every call since a bad deploy 47 minutes ago.
    await page.goto("/api-keys");
    const market = page.locator('tr[data-key="marketplace-bot"]');
    await expect(market.getByTestId("key-failing")).toHaveText("failing (HTTP 400)");
    await expect(page.locator('tr[data-key="shipping-bot"]').getByTestId("key-failing")).toHaveCount(0);
    await market.getByRole("link", { name: "marketplace-bot" }).click();
    await expect(page).toHaveURL(/\/api-keys\/[0-9a-f]{24}$/);
    await expect(page.getByTestId("key-name")).toHaveText("marketplace-bot");
    await expect(page.getByTestId("key-health")).toContainText("Failing since");
    await expect(page.getByTestId("key-health")).toContainText("HTTP 400");
    await expect(page.getByTestId("usage-figures")).toContainText("p95");
    await expect(page.locator('svg[data-chart="calls"] rect').first()).toBeAttached();

    // Calls made now with the bootstrap key show on its page at once.
    const count = async () => {
      await page.goto("/api-keys/env");
      const text = await page.getByTestId("usage-figures").locator("dd").first().textContent();
      return Number(text!.replace(/,/g, ""));
    };
    const before = await count();
    const api = await bot(baseURL);
    for (let i = 0; i < 3; i++) expect((await api.post("/api/v1/order-ids")).status()).toBe(200);
    expect((await api.post("/api/v1/orders", { data: "[]", headers: { "content-type": "application/json" } })).status()).toBe(400);
    await api.dispose();
    expect(await count()).toBeGreaterThanOrEqual(before + 4);
    await expect(page.getByTestId("usage-hours")).toContainText(/\d/);
  });
});

// Every page at a phone, a tablet and a desktop width, light and dark: nothing wider than
// the window, the search box reachable, and axe finds nothing serious.
const WIDTHS = [390, 768, 1440];

async function checkLayout(page: Page, paths: string[], theme: "light" | "dark") {
  await page.addInitScript((t) => localStorage.setItem("theme", t), theme);
  for (const path of paths) {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(path);
      await expect(page.locator("html")).toHaveClass(theme === "dark" ? /dark/ : /^(?!.*dark)/);
      const { scroll, inner } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
      }));
      expect(scroll, `${path} at ${width}px (${theme}) is ${scroll}px wide`).toBeLessThanOrEqual(inner);
      await expect(page.locator("#header-search"), `${path} at ${width}px`).toBeInViewport();
    }
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.map((v) => `${path} (${theme}): ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target).join(" ")}`)).toEqual([]);
  }
}

async function supportPaths(page: Page): Promise<string[]> {
  await page.goto("/orders?source=marketplace");
  const order = (await page.getByTestId("order-row").first().locator("a").first().getAttribute("href"))!;
  await page.goto(order);
  const counter = (await page.getByTestId("order-id-explained").getByRole("link").getAttribute("href"))!;
  return ["/", "/search?q=ORD-DECODE", "/orders", order, "/counters", counter, "/performance", "/failures"];
}

for (const theme of ["light", "dark"] as const) {
  test(`support pages fit 390, 768 and 1440 px in the ${theme} theme`, async ({ page }) => {
    test.setTimeout(90_000);
    await checkLayout(page, await supportPaths(page), theme);
  });

  test.describe(`as admin (${theme})`, () => {
    test.use({ storageState: DEMO.admin.state });
    test(`admin pages fit 390, 768 and 1440 px in the ${theme} theme`, async ({ page }) => {
      test.setTimeout(90_000);
      await page.goto("/api-keys");
      const key = (await page.locator('tr[data-key="marketplace-bot"] a').getAttribute("href"))!;
      await checkLayout(page, ["/maintenance", "/audit", "/api-keys", key], theme);
    });
  });
}
