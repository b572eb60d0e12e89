// The site in a real browser (Debian's chromium, headless):
//   node browser.mjs BUILD/site BUILD/site-shots
// - axe-core on every page: no violation at all (every rule in the light
//   scheme, the colour rules again in the dark one);
// - every page at 390x844 (phone) and 1280x800, light and dark: no
//   horizontal scroll, the header's jump links and search box visible;
//   no JavaScript error or failed request;
// - screenshots of every page type at both sizes and in both schemes into
//   BUILD/site-shots/ for review;
// - the site works without JavaScript (the docs menu is all there);
// - search: typing a word that appears only in one page's body into the
//   header's search box lists that page.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { serve, launch, sitePages } from "./harness.mjs";

const [siteDir, shotDir] = process.argv.slice(2);
if (!siteDir || !shotDir) {
    console.error("usage: browser.mjs SITE_DIR SHOT_DIR");
    process.exit(2);
}
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf-8");

// One page of each kind is photographed.
const SHOTS = ["index", "docs", "download", "contribute", "news",
               "performance", "programs", "vmhostd.8", "api", "search"];
const SIZES = [
    { name: "390x844", width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
    { name: "1280x800", width: 1280, height: 800, deviceScaleFactor: 1 },
];
const SCHEMES = ["light", "dark"];

const failures = [];
const fail = (msg) => { failures.push(msg); console.log("FAIL " + msg); };
let checks = 0;

function searchWord(dir) {
    // A word found in exactly one page, only in its body (not in any page
    // title or heading), so the search must have looked in the text.
    const index = JSON.parse(readFileSync(join(dir, "search-index.json"), "utf-8"));
    const where = new Map();
    const heads = new Set();
    for (const page of index) {
        for (const w of page.t.toLowerCase().match(/[a-z]+/g) || []) heads.add(w);
        for (const s of page.s) {
            for (const w of s.h.toLowerCase().match(/[a-z]+/g) || []) heads.add(w);
            for (const w of s.x.toLowerCase().match(/\b[a-z]{9,}\b/g) || []) {
                if (!where.has(w)) where.set(w, new Set());
                where.get(w).add(page.u);
            }
        }
    }
    const words = [...where].filter(([w, pages]) => pages.size === 1 && !heads.has(w)
        && !index.some((p) => p.s.some((s) => s.x.toLowerCase().includes(w) && p.u !== [...pages][0])))
        .map(([w, pages]) => [w, [...pages][0]])
        .sort((a, b) => a[0].localeCompare(b[0]));
    // Prefer a doc page over the pages the site writes itself.
    return words.find(([, u]) => !/^(index|docs|download|news)\.html$/.test(u)) || words[0];
}

async function checkPage(page, base, name, size, scheme) {
    const url = base + name + ".html";
    const errors = [];
    const onError = (e) => errors.push("page error: " + e.message);
    const onConsole = (m) => { if (m.type() === "error") errors.push("console: " + m.text()); };
    const onFailed = (r) => errors.push("request failed: " + r.url());
    const onResponse = (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); };
    page.on("pageerror", onError);
    page.on("console", onConsole);
    page.on("requestfailed", onFailed);
    page.on("response", onResponse);
    try {
        await page.goto(url, { waitUntil: "load", timeout: 15000 });
        const m = await page.evaluate(() => {
            const vis = (el) => {
                if (!el) return false;
                const r = el.getBoundingClientRect();
                const st = getComputedStyle(el);
                return r.width > 0 && r.height > 0 && r.left >= 0 &&
                    r.right <= window.innerWidth + 0.5 && st.visibility !== "hidden" &&
                    st.display !== "none";
            };
            const links = [...document.querySelectorAll("nav.jump a")];
            return {
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth,
                nav: ["Download", "Contribute", "Docs"].filter(
                    (t) => !links.some((a) => a.textContent.trim() === t && vis(a))),
                search: vis(document.querySelector("header form.search input")),
                dark: matchMedia("(prefers-color-scheme: dark)").matches,
                bg: getComputedStyle(document.body).backgroundColor,
            };
        });
        checks++;
        const where = `${name}.html at ${size.name} ${scheme}`;
        if (m.scrollWidth > m.innerWidth) {
            fail(`${where}: scrolls sideways (scrollWidth ${m.scrollWidth} > innerWidth ${m.innerWidth})`);
        }
        if (m.nav.length) fail(`${where}: jump links not visible: ${m.nav.join(", ")}`);
        if (!m.search) fail(`${where}: the search box is not visible`);
        if (m.dark !== (scheme === "dark")) fail(`${where}: colour scheme not applied`);
        if (SHOTS.includes(name)) {
            if (name === "search") {
                await page.goto(url + "?q=tls+priority", { waitUntil: "load" });
                await page.waitForSelector("#results li", { timeout: 5000 }).catch(() => {});
            }
            await page.screenshot({ path: join(shotDir, `${name}-${size.name}-${scheme}.png`) });
        }
        await new Promise((r) => setTimeout(r, 0));
        for (const e of errors) fail(`${where}: ${e}`);
    } finally {
        page.off("pageerror", onError);
        page.off("console", onConsole);
        page.off("requestfailed", onFailed);
        page.off("response", onResponse);
    }
}

async function runAxe(page, scheme) {
    await page.evaluate(axeSource);
    // Light: every rule. Dark: the rules the scheme can change (colours).
    const only = scheme === "dark" ? ["color-contrast", "link-in-text-block"] : null;
    return page.evaluate(async (only) => {
        const r = await window.axe.run(document, {
            resultTypes: ["violations"],
            ...(only ? { runOnly: { type: "rule", values: only } } : {}),
        });
        return r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
        }));
    }, only);
}

async function main() {
    mkdirSync(shotDir, { recursive: true });
    const pages = sitePages(siteDir).map((p) => p.replace(/\.html$/, ""));
    const server = await serve(siteDir);
    const { browser, close } = await launch();
    const t0 = Date.now();
    try {
        const page = await browser.newPage();
        for (const size of SIZES) {
            await page.setViewport(size);
            for (const scheme of SCHEMES) {
                await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
                for (const name of pages) {
                    await checkPage(page, server.url, name, size, scheme);
                    if (size.width === 1280) {
                        const v = await runAxe(page, scheme);
                        checks++;
                        for (const x of v) {
                            fail(`axe ${name}.html ${scheme}: ${x.id} (${x.impact}): ${x.help} at ${x.nodes.join(", ")}`);
                        }
                    }
                }
            }
        }
        console.log(`pages: ${pages.length} pages x 2 sizes x 2 schemes, axe on each in both schemes (${Date.now() - t0} ms)`);

        // Without JavaScript: the docs menu and a doc page's contents are all there.
        const nojs = await browser.newPage();
        await nojs.setJavaScriptEnabled(false);
        await nojs.goto(server.url + "docs.html", { waitUntil: "load" });
        const links = await nojs.$$eval(".panel dt a", (as) => as.length);
        checks++;
        if (links < 5) fail(`docs.html without JavaScript: ${links} links in the panels`);
        await nojs.goto(server.url + "architecture.html", { waitUntil: "load" });
        const toc = await nojs.$$eval("nav.toc a", (as) => as.length);
        checks++;
        if (toc < 3) fail(`architecture.html without JavaScript: ${toc} links in its contents`);
        await nojs.close();

        // Search from the header's box, as a reader would.
        const [word, target] = searchWord(siteDir);
        await page.setViewport(SIZES[1]);
        await page.goto(server.url + "index.html", { waitUntil: "load" });
        await page.type("header form.search input", word);
        await Promise.all([
            page.waitForNavigation({ waitUntil: "load" }),
            page.keyboard.press("Enter"),
        ]);
        await page.waitForSelector("#results li a", { timeout: 10000 })
            .catch(() => fail(`search for '${word}': no results appeared`));
        const hits = await page.$$eval("#results li a", (as) => as.map((a) => a.getAttribute("href")));
        checks++;
        if (!hits.length || !hits[0].startsWith(target)) {
            fail(`search for '${word}' (only in ${target}): results ${JSON.stringify(hits.slice(0, 3))}`);
        } else {
            console.log(`search: '${word}' found ${hits[0]} (the only page with it, in its body)`);
        }
        // Live search on the results page as the query is edited.
        await page.click("#q2", { clickCount: 3 });
        await page.type("#q2", "zzzznotaword");
        await page.waitForFunction(() => document.querySelectorAll("#results li").length === 0
            && /Nothing matches/.test(document.getElementById("search-status").textContent),
            { timeout: 5000 }).catch(() => fail("search: a word found nowhere still lists results"));
        checks++;
    } finally {
        await close();
        await server.close();
    }
    console.log(`browser: ${checks} checks, ${failures.length} failed, ${Date.now() - t0} ms; screenshots in ${shotDir}`);
    process.exitCode = failures.length ? 1 : 0;
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
