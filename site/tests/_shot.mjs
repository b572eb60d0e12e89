import { serve, launch } from "./harness.mjs";
const [page_, w, scheme, out, full] = process.argv.slice(2);
const s = await serve("/tmp/site-out"); const { browser, close } = await launch();
const p = await browser.newPage(); await p.setViewport({width: +w, height: 800});
await p.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
await p.goto(s.url + page_, {waitUntil: "load"});
await p.screenshot({path: out, fullPage: full === "full"});
await close(); await s.close();
