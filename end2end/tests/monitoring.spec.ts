import { test, expect, request } from "@playwright/test";

// The monitoring pages render; a counter bumped by another process (a bot calling the API)
// shows on /counters within 5 s, without a reload.
test("a counter bumped by a bot appears on /counters within 5 s", async ({ page, baseURL }) => {
  const key = process.env.E2E_API_KEY;
  expect(key, "scripts/test sets E2E_API_KEY").toBeTruthy();
  const vendor = `e2e-live-${Date.now()}`;
  await page.goto("/counters");
  await page.locator("body[data-hydrated]").waitFor();
  await expect(page.getByTestId("counters-summary")).toBeVisible();
  const bot = await request.newContext({ baseURL, extraHTTPHeaders: { "X-API-Key": key! } });
  const first = await bot.post(`/api/v1/vendors/${vendor}/order-numbers`, { data: { user_id: "user-0042" } });
  expect(first.status()).toBe(200);
  const { counter_id } = await first.json();
  const row = page.locator(`[data-counter="${counter_id}"]`);
  await expect(row.getByTestId("sequence")).toHaveText("1", { timeout: 5_000 });
  await bot.post(`/api/v1/vendors/${vendor}/order-numbers`, { data: { user_id: "user-0042" } });
  await expect(row.getByTestId("sequence")).toHaveText("2", { timeout: 5_000 });
  await bot.dispose();
});

test("the performance page shows the operations table and a labelled chart", async ({ page }) => {
  await page.goto("/performance");
  await expect(page.getByTestId("operations")).toBeVisible();
  await expect(page.locator("svg[role=img]")).toHaveAttribute("aria-label", /milliseconds/);
});

test("the failures page shows rates, completion percentiles and charts with units", async ({ page }) => {
  const res = await page.goto("/failures?days=90");
  expect(res?.status()).toBe(200);
  await expect(page.getByTestId("failure-summary")).toContainText("failed");
  await expect(page.getByTestId("by-scheme")).toContainText("ORD");
  await expect(page.getByTestId("completion")).toContainText("p50");
  await expect(page.locator("svg[role=img]").first()).toHaveAttribute("aria-label", /% failed/);
  const bad = await page.goto("/failures?days=400");
  expect(bad?.status()).toBe(400);
  await expect(page.getByRole("alert")).toContainText("between 1 and 90");
});
