// A full page load until the page is live: from the navigation's start to `<body data-hydrated>`
// (set once the page is hydrated), with the browser's cache empty (a first visit) and warm (a
// later visit). A benchmark, not a test: it prints p50/p95 and asserts nothing about speed.
//
//   HYDRATE_SITES="parts=http://127.0.0.1:3000,whole=http://127.0.0.1:3001" node end2end/bench/hydrate.mjs
//   (scripts/bench hydrate runs it on the current build; HYDRATE_PEERS adds other sites;
//   HYDRATE_NETWORK="40,10000,5000" emulates 40 ms of latency and 10/5 Mbit/s)
//
// Several sites (the same server, each with its own build of the bundle) are measured in one
// run, their loads interleaved, so that the machine's noise falls on all of them alike.
import { launchChromium, percentile, signIn } from "./common.mjs";

const SITES = (process.env.HYDRATE_SITES ?? "site=http://127.0.0.1:3000").split(",").map((s) => {
  const [name, url] = s.split("=");
  return { name, url };
});
const RUNS = Number(process.env.HYDRATE_RUNS ?? 20);
const PAGES = (process.env.HYDRATE_PAGES ?? "/,/orders,/counters").split(",");
// A network to emulate, "latency ms,down kbit/s,up kbit/s" (Chromium's own throttling, per
// page): loopback alone hides what a download in the way of a page costs.
const NETWORK = process.env.HYDRATE_NETWORK?.split(",").map(Number);
const EMAIL = process.env.HYDRATE_EMAIL ?? "support@orderdesk.demo";
const PASSWORD = process.env.HYDRATE_PASSWORD ?? "demo-support-password";

// Runs before the page's own scripts: notes when <body data-hydrated> appears.
function watch() {
  new MutationObserver((_, observer) => {
    if (document.body && document.body.hasAttribute("data-hydrated")) {
      window.__hydratedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
}

async function signedIn(browser, site) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, site.url, EMAIL, PASSWORD);
  const state = await context.storageState();
  await context.close();
  return state;
}

// One load of `path`; returns ms to hydrated and the bytes of wasm that came over the network.
async function load(context, url) {
  const page = await context.newPage();
  let wasmBytes = 0;
  let wasmFiles = 0;
  page.on("response", async (r) => {
    if (!r.url().endsWith(".wasm") || r.fromServiceWorker()) return;
    const sizes = await r.request().sizes().catch(() => null);
    if (sizes && sizes.responseBodySize > 0) {
      wasmBytes += sizes.responseBodySize;
      wasmFiles += 1;
    }
  });
  if (NETWORK) {
    const [latency, down, up] = NETWORK;
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency,
      downloadThroughput: (down * 1000) / 8,
      uploadThroughput: (up * 1000) / 8,
    });
  }
  await page.goto(url);
  await page.locator("body[data-hydrated]").waitFor({ state: "attached", timeout: 30_000 });
  const ms = await page.evaluate(() => window.__hydratedAt);
  await page.close();
  return { ms, wasmBytes, wasmFiles };
}

async function main() {
  const browser = await launchChromium();
  for (const site of SITES) {
    site.state = await signedIn(browser, site);
    site.warm = await browser.newContext({ storageState: site.state });
    await site.warm.addInitScript(watch);
    site.results = {};
  }
  for (let run = 0; run < RUNS; run++) {
    for (const path of PAGES) {
      for (const site of SITES) {
        const cold = await browser.newContext({ storageState: site.state });
        await cold.addInitScript(watch);
        const first = await load(cold, site.url + path);
        await cold.close();
        const later = await load(site.warm, site.url + path);
        for (const [kind, r] of [["first visit", first], ["later visit", later]]) {
          const key = `${path} ${kind}`;
          (site.results[key] ??= []).push(r);
        }
      }
    }
  }
  for (const site of SITES) {
    console.log(`${site.name} (${site.url})${NETWORK ? `, network: ${NETWORK[0]} ms, ${NETWORK[1]}/${NETWORK[2]} kbit/s down/up` : ""}`);
    for (const [key, rs] of Object.entries(site.results)) {
      const ms = rs.map((r) => r.ms).sort((a, b) => a - b);
      const kb = rs.map((r) => r.wasmBytes).sort((a, b) => a - b);
      const files = rs.map((r) => r.wasmFiles).sort((a, b) => a - b);
      console.log(
        `  ${key.padEnd(24)} to hydrated: n=${ms.length} p50 ${percentile(ms, 50).toFixed(1)} ms, p95 ${percentile(ms, 95).toFixed(1)} ms` +
          `; wasm over the network: ${(percentile(kb, 50) / 1024).toFixed(0)} KB in ${percentile(files, 50)} files (p50)`,
      );
    }
  }
  await browser.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
