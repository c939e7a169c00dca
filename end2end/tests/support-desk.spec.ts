import { test, expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { search } from "../actions";

/** The newest order that has an ORD order_id, and its page. */
async function anOrder(page: Page): Promise<string> {
  await page.goto("/");
  const links = page.getByTestId("recent-order").locator("a");
  const texts = await links.allTextContents();
  const id = texts.map((t) => t.trim()).find((t) => /^ORD-\d{14}-[0-9a-f]{8}$/.test(t));
  expect(id, `an ORD order among ${texts.join(", ")}`).toBeTruthy();
  return id!;
}

test("each form of an ID lands on the order page", async ({ page }) => {
  const id = await anOrder(page);
  const display = "ORD-" + id.slice(19, 25).toUpperCase();
  for (const form of [id, id.toLowerCase(), `#${display}`, display.toLowerCase(), `  ${display}  `]) {
    await page.goto("/");
    await search(page, form);
    await expect(page).toHaveURL(new RegExp(`/orders/${id}$`));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(id);
  }
});

test("a BB number lands on its marketplace order", async ({ page }) => {
  // The demo data is fixed (--seed 7, --now): open the newest orders until a marketplace one.
  await page.goto("/");
  const hrefs = await page.getByTestId("recent-order").locator("a").evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
  let number: string | null = null;
  for (const href of hrefs) {
    await page.goto(href);
    const text = await page.getByTestId("order-page").textContent();
    const match = text?.match(/BB-\d{13}-[0-9A-Z]{4}-\d{5}/);
    if (match) { number = match[0]; break; }
  }
  expect(number, "a marketplace order among the newest").toBeTruthy();
  const orderUrl = page.url();
  await page.goto("/");
  await search(page, number!);
  await expect(page).toHaveURL(orderUrl);
});

test("the order page shows the timeline, the raw document and a QR code", async ({ page }) => {
  const id = await anOrder(page);
  await page.goto(`/orders/${id}`);
  await expect(page.getByTestId("timeline")).toContainText("Created");
  // An image of its own, loaded and decoded by the browser (not inlined in the page).
  const qr = page.getByTestId("qr-code");
  await expect(qr).toBeVisible();
  await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  await page.getByText("Raw document").click();
  await expect(page.getByTestId("raw-json")).toContainText(id);
});

test("a shortened ID, as the seeds print them, leads to its order or the orders it narrows to", async ({ page }) => {
  const id = await anOrder(page);
  // The tracking example's shape: the time of day dropped, the random part whole.
  await search(page, `${id.slice(0, 12)}-${id.slice(19)}`);
  await expect(page).toHaveURL(new RegExp(`/orders/${id}$`));
  // The slow-query log's shape: the first 11 characters.
  await search(page, id.slice(0, 11));
  await expect(page).toHaveURL(/\/search\?q=/);
  await expect(page.getByTestId("order-row").first()).toBeVisible();
  await expect(page.getByTestId("search-results")).toContainText("7 of 14 digits missing");
});

test("an unknown ID says how it was read; garbage says what is expected", async ({ page }) => {
  await page.goto("/");
  await search(page, "ORD-20200101000000-00000000");
  await expect(page.getByTestId("no-match")).toContainText("order ID (ORD)");
  await search(page, "hello world!");
  await expect(page.getByRole("alert")).toContainText("is not an order ID");
});

test("the support pages have no serious accessibility violations", async ({ page }) => {
  const id = await anOrder(page);
  for (const path of ["/", `/search?q=${id.slice(0, 10)}`, `/orders/${id}`]) {
    await page.goto(path);
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.map((v) => `${path}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target).join(" ")}`)).toEqual([]);
  }
});

test("typing the start of an ID offers matching orders", async ({ page }) => {
  const id = await anOrder(page);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const prefix = id.slice(0, 12);
  await page.locator("#main-search").pressSequentially(prefix.toLowerCase());
  const offered = () =>
    page.locator("#main-search-suggestions option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  // Each keystroke asks again; wait for the answer to the whole prefix.
  await expect.poll(async () => { const o = await offered(); return o.length > 0 && o.every((v) => v.startsWith(prefix)); }).toBe(true);
  expect((await offered()).length).toBeLessThanOrEqual(8);
});

test("an ambiguous display ID lists every order that has it", async ({ page }) => {
  // The demo data holds two orders whose display IDs are both ORD-DEC0DE.
  await page.goto("/");
  await search(page, "#ord-dec0de");
  await expect(page).toHaveURL(/\/search\?q=/);
  const rows = page.getByTestId("order-row");
  await expect(rows).toHaveCount(2);
  await expect(page.getByTestId("search-results")).toContainText("display ID");
  await rows.nth(1).locator("a").click();
  await expect(page.getByTestId("order-page")).toContainText("ORD-DEC0DE");
});
