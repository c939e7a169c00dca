// What the browser benchmarks (paste.mjs, hydrate.mjs) share: Debian's Chromium, the sign-in
// form, and percentiles.
import { chromium } from "@playwright/test";

export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
}

// Signs `page` in through the form, as a person does; returns once it has left /login.
export async function signIn(page, base, email, password) {
  await page.goto(`${base}/login`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith("/login")), page.press('input[name="password"]', "Enter")]);
}

// The p-th percentile of ascending `sorted` (nearest rank).
export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
