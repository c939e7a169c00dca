import { test, expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { DEMO } from "../auth";

// The demo data (scripts/test seeds it fresh) holds the shipping bot's legacy damage:
// orders without order_id, with null or "", and duplicated IDs. This walks an admin through
// fixing it: check → dry run → review → confirm → apply with progress → runs listed → index.
// It changes the data, so its steps run in order.
test.describe.configure({ mode: "serial" });
test.use({ storageState: DEMO.admin.state });

async function runToEnd(page: Page, kind: string) {
  const run = page.getByTestId("active-run");
  await expect(run).toBeVisible();
  await expect(run).toHaveAttribute("data-status", "completed", { timeout: 20_000 });
  await expect(run.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  await expect(run).toContainText(kind);
}

test("the index check runs in the background and shows the blocked unique index and its blockers", async ({ page }) => {
  await page.goto("/maintenance");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const row = page.locator('[data-index="orders.order_id_1"]');
  // listIndexes alone: missing, blockers not counted until a scan has run.
  await page.getByTestId("check-indexes").click();
  await runToEnd(page, "Index check");
  await expect(page.getByTestId("run-progress")).toContainText(/^(\d+) \/ \1 indexes checked/);
  await expect(page.getByTestId("scan-info")).toContainText("Blockers as counted by the scan that finished");
  await expect(row.locator("[data-state]")).toHaveText("blocked");
  await expect(row.getByTestId("blockers")).toContainText(/\d+ missing, \d+ null, \d+ empty/);
  await expect(row).toContainText("order_id_1_nonunique");
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id} (${v.impact}) ${v.nodes.map((n) => n.target).join(" ")}`)).toEqual([]);
});

test("dry run, review, confirm and apply order-ids and duplicates, then build the index", async ({ page }) => {
  await page.goto("/maintenance");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  for (const migration of ["order-ids", "duplicates"]) {
    const card = page.locator(`[data-migration="${migration}"]`);
    await card.getByTestId("dry-run").click();
    await runToEnd(page, `Dry run of ${migration}`);
    const review = page.getByTestId("active-run");
    await expect(review.getByTestId("run-message")).toContainText("would change");
    await expect(review.getByTestId("changes").locator("tbody tr").first()).toBeVisible();

    // Applying needs the migration's name typed out.
    await card.getByTestId("apply").click();
    const confirm = card.getByTestId("confirm-apply");
    await expect(confirm).toBeDisabled();
    await card.getByTestId("confirm").fill(migration);
    await confirm.click();
    await runToEnd(page, `Run of ${migration}`);
    await expect(page.getByTestId("run-message")).toContainText(/^changed \d+ of \d+ orders/);

    // Both runs are on record, newest first.
    const rows = page.locator(`[data-testid="runs"] tr[data-task="${migration}"]`);
    await expect(rows).toHaveCount(2);
    await expect(rows.first()).toContainText("applied");
    await expect(rows.nth(1)).toContainText("dry run");
  }

  // The data is clean: the unique index builds, as a recorded run, and replaces its stand-in.
  await page.getByTestId("apply-indexes").click();
  await runToEnd(page, "Index build");
  await expect(page.getByTestId("run-message")).toHaveText("created orders.order_id_1");
  await expect(page.locator('[data-index="orders.order_id_1"] [data-state]')).toHaveText("present");
  // The apply is on record with the runs, under who did it.
  const applyRow = page.locator('[data-testid="runs"] tr[data-task="indexes"]').first();
  await expect(applyRow).toContainText(DEMO.admin.email);
  await expect(applyRow).toHaveAttribute("data-status", "completed");

  // A second dry run finds nothing to do.
  await page.locator('[data-migration="order-ids"]').getByTestId("dry-run").click();
  await runToEnd(page, "Dry run of order-ids");
  await expect(page.getByTestId("run-message")).toContainText("nothing to do");
});

test("a number migration ends with a uniqueness report on the run", async ({ page }) => {
  await page.goto("/maintenance");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('[data-migration="order-numbers"]').getByTestId("dry-run").click();
  await runToEnd(page, "Dry run of order-numbers");
  await expect(page.getByTestId("run-message")).toContainText("counters checked");
  const report = page.getByTestId("uniqueness");
  await expect(report).toContainText(/Uniqueness: .*\d+ counters/);
  await expect(report).toHaveAttribute("data-sound", /true|false/);
});
