import { test, expect } from "@playwright/test";

test("the list filters, pages with a cursor in the URL, and keeps the filter", async ({ page }) => {
  await page.goto("/orders");
  await expect(page.getByTestId("order-row")).toHaveCount(50);
  await page.locator("select[name=status]").selectOption("failed");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/status=failed/);
  // The URL changes first; the rows follow when the list's server function answers.
  await expect(page.getByTestId("order-row").first().locator("td:nth-child(3)")).toHaveText("failed");
  const statuses = await page.getByTestId("order-row").locator("td:nth-child(3)").allTextContents();
  expect(statuses.length).toBeGreaterThan(0);
  expect(new Set(statuses)).toEqual(new Set(["failed"]));
  const first = await page.getByTestId("order-row").first().textContent();
  await page.getByTestId("next-page").click();
  await expect(page).toHaveURL(/status=failed.*after=/);
  await expect(page.getByTestId("order-row").first()).not.toHaveText(first!);
  const more = await page.getByTestId("order-row").locator("td:nth-child(3)").allTextContents();
  expect(new Set(more)).toEqual(new Set(["failed"]));
});

test("the CSV export holds exactly the filtered list", async ({ page, request }) => {
  await page.goto("/orders?status=cancelled&scheme=bb");
  const ids = (await page.getByTestId("order-row").locator("td:first-child").allTextContents()).map((s) => s.trim());
  expect(ids.length).toBeGreaterThan(0);
  await expect(page.getByTestId("next-page")).toHaveCount(0); // one page: the whole set is on screen
  const href = await page.getByTestId("csv-link").getAttribute("href");
  expect(href).toBe("/orders.csv?status=cancelled&scheme=bb");
  const res = await request.get(href!);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("text/csv");
  const lines = (await res.text()).trim().split("\n");
  expect(lines[0]).toMatch(/^order_id,display_id,order_number/);
  // Every text cell is quoted (a defence against spreadsheet formulas); none here has a comma.
  const rows = lines.slice(1).map((l) => l.split(",").map((cell) => cell.replace(/^"|"$/g, "")));
  expect(rows.length).toBe(ids.length);
  // Marketplace orders are named by their BB number (the CSV's third column).
  expect(rows.map((r) => r[2])).toEqual(ids);
  expect(new Set(rows.map((r) => r[5]))).toEqual(new Set(["cancelled"]));
});

test("a bad filter gets a clear message, not an error page", async ({ page }) => {
  const res = await page.goto("/orders?status=lost");
  expect(res!.status()).toBe(400);
  await expect(page.getByRole("alert")).toContainText("status must be one of");
});

test("keyboard: / focuses search, j and k walk the rows", async ({ page }) => {
  await page.goto("/orders");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.keyboard.press("/");
  await expect(page.locator("#header-search")).toBeFocused();
  await page.locator("#header-search").blur();
  await page.keyboard.press("j");
  const links = page.getByTestId("order-row").locator("a");
  await expect(links.nth(0)).toBeFocused();
  await page.keyboard.press("j");
  await expect(links.nth(1)).toBeFocused();
  await page.keyboard.press("k");
  await expect(links.nth(0)).toBeFocused();
  const href = await links.nth(0).getAttribute("href");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(href!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$"));
});
