// Every page of the built site is valid HTML5 (html-validate, pinned in
// site/package-lock.json, with site/tests/htmlvalidate.json):
//   node validate.mjs BUILD/site
// The API reference under api/ is gi-docgen's output and not checked here.
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { HtmlValidate, formatterFactory } from "html-validate";
import { sitePages } from "./harness.mjs";

const siteDir = process.argv[2];
if (!siteDir) {
    console.error("usage: validate.mjs SITE_DIR");
    process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(readFileSync(join(here, "htmlvalidate.json"), "utf-8"));
const validator = new HtmlValidate(config);
const pages = sitePages(siteDir);
const reports = [];
let errors = 0;
for (const page of pages) {
    const report = await validator.validateFile(join(siteDir, page));
    errors += report.errorCount;
    if (!report.valid) {
        reports.push(...report.results);
    }
}
if (reports.length) {
    console.log(formatterFactory("stylish")(reports));
}
console.log(`validate: ${pages.length} pages, ${errors} errors`);
process.exitCode = errors || pages.length === 0 ? 1 : 0;
