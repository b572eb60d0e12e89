import { serve, launch } from "./harness.mjs";
const [w, scheme, out] = process.argv.slice(2);
const s = await serve("/tmp/site-out"); const { browser, close } = await launch();
const p = await browser.newPage(); await p.setViewport({width: +w, height: 800});
await p.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
await p.goto(s.url + "performance.html", {waitUntil: "load"});
const figs = await p.$$("figure.chart");
let i = 0; for (const f of figs) await f.screenshot({path: `${out}-${i++}.png`});
await close(); await s.close();
