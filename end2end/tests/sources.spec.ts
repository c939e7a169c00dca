import { test, expect, Page } from "@playwright/test";
import { DEMO } from "../auth";
import { search } from "../actions";

// A second orderdesk, which scripts/test points at two systems' own databases (the bot's
// snake_case orders, the marketplace's Mongoose documents) loaded by seed-demo.
const SOURCES = process.env.SOURCES_URL;

test.use({ storageState: { cookies: [], origins: [] } });

async function signIn(page: Page, who: { email: string; password: string }) {
  expect(SOURCES, "scripts/test sets SOURCES_URL to the orderdesk that reads two sources").toBeTruthy();
  await page.goto(`${SOURCES}/login`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: /sign in/i }).click();
  await expect(page).not.toHaveURL(/\/login/);
}

async function firstOrderOf(page: Page, filter: string): Promise<string> {
  await page.goto(`${SOURCES}/orders?${filter}`);
  const link = page.getByTestId("order-row").first().locator("a").first();
  const href = await link.getAttribute("href");
  expect(href).toBeTruthy();
  return href!;
}

test("a BB number finds the marketplace's order in its own database", async ({ page }) => {
  await signIn(page, DEMO.support);
  await page.goto(`${SOURCES}${await firstOrderOf(page, "source=marketplace")}`);
  await expect(page.getByTestId("order-origin")).toContainText("Marketplace");
  await expect(page.getByTestId("order-origin")).toContainText("e2e_bitesbay");
  const number = (await page.getByTestId("order-name").textContent())!.trim();
  expect(number).toMatch(/^BB-\d{13}-[0-9A-Z]{4}-\d{5}$/);
  await page.goto(`${SOURCES}/`);
  await search(page, number);
  await expect(page.getByTestId("order-name")).toHaveText(number);
});

test("a display ID finds the bot's order in its own database", async ({ page }) => {
  await signIn(page, DEMO.support);
  await page.goto(`${SOURCES}${await firstOrderOf(page, "source=shipping-bot&scheme=ord")}`);
  await expect(page.getByTestId("order-origin")).toContainText("Shipping bot");
  await expect(page.getByTestId("order-origin")).toContainText("e2e_bot");
  const id = (await page.getByTestId("order-name").textContent())!.trim();
  expect(id).toMatch(/^ORD-\d{14}-[0-9a-f]{8}$/);
  const display = "ORD-" + id.slice(19, 25).toUpperCase();
  await page.goto(`${SOURCES}/`);
  await search(page, `#${display}`);
  // One order, or the short list of those sharing the display form, with this one in it.
  await expect(page.getByText(id).first()).toBeVisible();
  // Lists span both systems, newest first.
  await page.goto(`${SOURCES}/orders`);
  const systems = await page.getByTestId("order-row").allTextContents();
  expect(systems.some((t) => t.includes("Marketplace"))).toBe(true);
  expect(systems.some((t) => t.includes("Shipping bot"))).toBe(true);
});

test("the Maintenance page shows each source checked against its data", async ({ page }) => {
  await signIn(page, DEMO.admin);
  await page.goto(`${SOURCES}/maintenance`);
  const sources = page.getByTestId("source");
  await expect(sources).toHaveCount(2);
  await expect(page.locator('[data-testid="source"][data-source="bot"]')).toHaveAttribute("data-healthy", "true");
  await expect(page.locator('[data-testid="source"][data-source="marketplace"]')).toHaveAttribute("data-healthy", "true");
});
