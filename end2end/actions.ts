import { Page } from "@playwright/test";

/** Types `text` into the header's search box and presses Enter, as a support agent pastes an ID. */
export async function search(page: Page, text: string): Promise<void> {
  const box = page.locator("#header-search");
  await box.fill(text);
  await box.press("Enter");
}
