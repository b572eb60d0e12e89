// Shared by the site's browser checks: a static server on 127.0.0.1 (a
// free port, inside this process) and Debian's chromium, headless, with a
// profile directory of our own that is removed afterwards.
import { createServer } from "node:http";
import { mkdtempSync, rmSync, readFileSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, normalize, extname } from "node:path";
import puppeteer from "puppeteer-core";

const TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".xml": "application/atom+xml",
    ".txt": "text/plain; charset=utf-8",
};

export function serve(dir) {
    const server = createServer((req, res) => {
        let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
        path = normalize(join(dir, path));
        if (!path.startsWith(normalize(dir))) {
            res.writeHead(403).end();
            return;
        }
        try {
            if (statSync(path).isDirectory()) {
                path = join(path, "index.html");
            }
            const body = readFileSync(path);
            res.writeHead(200, {
                "Content-Type": TYPES[extname(path)] || "application/octet-stream",
                "Cache-Control": "max-age=3600",
            });
            res.end(body);
        } catch {
            res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
        }
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address();
            resolve({
                url: `http://127.0.0.1:${port}/`,
                close: () => new Promise((r) => {
                    server.closeAllConnections?.();
                    server.close(() => r());
                }),
            });
        });
    });
}

export function chromiumPath() {
    const path = process.env.CHROME_PATH || "/usr/bin/chromium";
    if (!existsSync(path)) {
        throw new Error(`${path} not found: install Debian's chromium (scripts/install-deps)`);
    }
    return path;
}

// Launch chromium headless; returns { browser, close } where close()
// ends the browser and removes its profile directory.
export async function launch() {
    const profile = mkdtempSync(join(tmpdir(), "vmhost-site-chromium-"));
    let browser;
    try {
        browser = await puppeteer.launch({
            executablePath: chromiumPath(),
            headless: true,
            userDataDir: profile,
            // Everything chromium writes goes in the profile: its crash
            // database (else ~/.config/chromium) and its scratch dirs
            // (else /tmp/org.chromium.*, left behind when it is killed).
            env: {
                ...process.env,
                HOME: profile,
                XDG_CONFIG_HOME: join(profile, "config"),
                XDG_CACHE_HOME: join(profile, "cache"),
                TMPDIR: profile,
            },
            args: [
                "--no-sandbox", // root has no user namespace sandbox here
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--font-render-hinting=none",
            ],
            protocolTimeout: 60000,
            // Our own handlers below also remove the profile directory.
            handleSIGINT: false,
            handleSIGTERM: false,
            handleSIGHUP: false,
        });
    } catch (e) {
        rmSync(profile, { recursive: true, force: true });
        throw e;
    }
    // Stopped from outside (meson's timeout, Ctrl-C): end chromium and
    // remove its profile before exiting.
    const onSignal = (sig) => {
        const proc = browser.process();
        if (proc && proc.exitCode === null) {
            proc.kill("SIGKILL");
        }
        rmSync(profile, { recursive: true, force: true });
        process.exit(sig === "SIGINT" ? 130 : 143);
    };
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
        process.once(sig, onSignal);
    }
    const close = async () => {
        for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
            process.off(sig, onSignal);
        }
        const proc = browser.process();
        try {
            await Promise.race([
                browser.close(),
                new Promise((r) => setTimeout(r, 5000)),
            ]);
        } finally {
            if (proc && proc.exitCode === null) {
                proc.kill("SIGKILL");
            }
            rmSync(profile, { recursive: true, force: true });
        }
    };
    return { browser, close };
}

// The top-level pages of the site (the API reference is gi-docgen's).
export function sitePages(dir) {
    const list = readFileSync(join(dir, "pages.txt"), "utf-8");
    return list.split("\n").filter((p) => p && !p.includes("/"));
}
