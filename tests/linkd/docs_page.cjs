// Opens linkd's /docs in Debian's headless Chromium (driven by npm's puppeteer-core), waits until
// Swagger UI shows every operation of the contract, and saves a screenshot.
//   NODE_PATH=tools/contract/node_modules node tests/linkd/docs_page.cjs http://127.0.0.1:PORT OUT.png
// Prints one JSON line: the operations the contract has, those the page shows, and the
// console's CSP violations and errors.
const puppeteer = require("puppeteer-core");

(async () => {
  const [base, screenshot] = process.argv.slice(2);
  const spec = await (await fetch(`${base}/openapi.json`)).json();
  const expected = [];
  // Operations under paths, and the webhooks linkd calls (Swagger UI shows them by name).
  for (const group of [spec.paths || {}, spec.webhooks || {}]) {
    for (const [path, item] of Object.entries(group)) {
      for (const method of ["get", "put", "post", "delete", "patch", "head", "options"]) {
        if (item[method]) expected.push(`${method.toUpperCase()} ${path}`);
      }
    }
  }
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 2000 });
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    const response = await page.goto(`${base}/docs`, { waitUntil: "load" });
    const csp = response.headers()["content-security-policy"] || "";
    // Every operation rendered: Swagger UI gives each a block with its method and path.
    await page.waitForFunction(
      (n) => document.querySelectorAll(".opblock-summary-method").length >= n,
      { timeout: 30000 },
      expected.length,
    );
    const shown = await page.$$eval(".opblock-summary", (blocks) =>
      blocks.map((b) => {
        const method = b.querySelector(".opblock-summary-method").textContent.trim();
        const path = b.querySelector(".opblock-summary-path").getAttribute("data-path");
        return `${method} ${path}`;
      }),
    );
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ expected: expected.sort(), shown: shown.sort(), csp, problems }));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.log(JSON.stringify({ error: String(e) }));
  process.exit(1);
});
