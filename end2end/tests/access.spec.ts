import { test, expect } from "@playwright/test";
import { DEMO } from "../auth";

// Signing in through the form, roles enforced by the server, and the audit trail.
test.describe("signed out", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("a page sends you to sign in and back where you were", async ({ page }) => {
    await page.goto("/orders?status=paid");
    await expect(page).toHaveURL(/\/login\?next=/);
    await page.getByLabel("Email").fill(DEMO.support.email);
    await page.getByLabel("Password").fill("wrong password here");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByTestId("login-error")).toContainText("do not match");
    await page.getByLabel("Password").fill(DEMO.support.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/orders\?status=paid$/);
    await expect(page.getByTestId("viewer")).toContainText("support@orderdesk.demo · support");
  });
});

test.describe("as support", () => {
  test("looks an order up, but the maintenance page is refused", async ({ page }) => {
    await page.goto("/");
    const texts = await page.getByTestId("recent-order").locator("a").allTextContents();
    const id = texts.map((t) => t.trim()).find((t) => /^ORD-\d{14}-[0-9a-f]{8}$/.test(t)) ?? "";
    expect(id).toMatch(/^ORD-/);
    await page.locator("#header-search").fill(id);
    await page.locator("#header-search").press("Enter");
    await expect(page).toHaveURL(new RegExp(`/orders/${id}$`));
    await expect(page.getByRole("link", { name: "Maintenance" })).toHaveCount(0);
    const refused = await page.goto("/maintenance");
    expect(refused?.status()).toBe(403);
    await expect(page.getByText("This needs the admin role")).toBeVisible();
  });
});

test.describe("as admin", () => {
  test.use({ storageState: DEMO.admin.state });

  test("a dry run lands in the audit log with who started it", async ({ page }) => {
    await page.goto("/maintenance");
    await page.locator("body[data-hydrated]").waitFor();
    const card = page.locator('[data-migration="order-numbers"]');
    await card.getByTestId("dry-run").click();
    await expect(page.getByTestId("active-run")).toHaveAttribute("data-status", "completed", { timeout: 20_000 });
    await page.goto("/audit?action=start_migration");
    const row = page.locator('[data-action="start_migration"]').first();
    await expect(row).toContainText("admin@orderdesk.demo");
    await expect(row).toContainText("migration=order-numbers");
    await expect(row).toContainText("mode=dry-run");
    await expect(row).not.toContainText("_csrf");
    const csv = await page.request.get("/audit.csv?action=start_migration");
    expect(csv.status()).toBe(200);
    expect(await csv.text()).toContain("admin@orderdesk.demo");
  });
});
