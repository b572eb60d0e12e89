/* vmhost's site search: the prebuilt index (search-index.json, one entry
 * per page with its sections' text) searched in the browser. Every word
 * of the query must appear in a section; sections are ranked by where the
 * words appear (title, heading, body) and how often. */
(function () {
    "use strict";

    var input = document.getElementById("q2");
    var status = document.getElementById("search-status");
    var list = document.getElementById("results");
    var index = null;

    function words(q) {
        return q.toLowerCase().split(/\s+/).filter(function (w) {
            return w.length > 0;
        });
    }

    function count(hay, w) {
        var n = 0, i = hay.indexOf(w);
        while (i !== -1 && n < 50) {
            n++;
            i = hay.indexOf(w, i + w.length);
        }
        return n;
    }

    function search(q) {
        var ws = words(q), hits = [];
        if (!ws.length) {
            return hits;
        }
        index.forEach(function (page) {
            var title = page.t.toLowerCase();
            page.s.forEach(function (sec) {
                var head = sec.h.toLowerCase(), body = sec.x.toLowerCase();
                var score = 0;
                for (var i = 0; i < ws.length; i++) {
                    var w = ws[i];
                    var inT = title.indexOf(w) !== -1;
                    var inH = head.indexOf(w) !== -1;
                    var n = count(body, w);
                    if (!inT && !inH && !n) {
                        return;
                    }
                    score += (inT ? 10 : 0) + (inH ? 5 : 0) + Math.min(n, 10);
                }
                hits.push({page: page, sec: sec, score: score});
            });
        });
        hits.sort(function (a, b) { return b.score - a.score; });
        return hits.slice(0, 50);
    }

    function snippet(text, ws) {
        var low = text.toLowerCase(), at = -1;
        for (var i = 0; i < ws.length && at === -1; i++) {
            at = low.indexOf(ws[i]);
        }
        var start = Math.max(0, at - 60);
        var part = text.slice(start, start + 200);
        return (start > 0 ? "\u2026" : "") + part +
            (start + 200 < text.length ? "\u2026" : "");
    }

    function mark(parent, text, ws) {
        var low = text.toLowerCase(), pos = 0;
        while (pos < text.length) {
            var next = -1, len = 0;
            ws.forEach(function (w) {
                var i = low.indexOf(w, pos);
                if (i !== -1 && (next === -1 || i < next)) {
                    next = i;
                    len = w.length;
                }
            });
            if (next === -1) {
                break;
            }
            parent.appendChild(document.createTextNode(text.slice(pos, next)));
            var m = document.createElement("mark");
            m.textContent = text.slice(next, next + len);
            parent.appendChild(m);
            pos = next + len;
        }
        parent.appendChild(document.createTextNode(text.slice(pos)));
    }

    function show(q) {
        var ws = words(q);
        var hits = search(q);
        list.textContent = "";
        if (!ws.length) {
            status.textContent = "Type words to find in every page.";
            return;
        }
        status.textContent = hits.length ?
            hits.length + (hits.length === 1 ? " section" : " sections") +
            " match \u201c" + q + "\u201d." :
            "Nothing matches \u201c" + q + "\u201d.";
        hits.forEach(function (h) {
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = h.sec.u;
            a.textContent = h.sec.h === h.page.t ? h.page.t :
                h.page.t + " \u203a " + h.sec.h;
            li.appendChild(a);
            var p = document.createElement("p");
            mark(p, snippet(h.sec.x, ws), ws);
            li.appendChild(p);
            list.appendChild(li);
        });
    }

    var q = new URLSearchParams(window.location.search).get("q") || "";
    input.value = q;
    var top = document.getElementById("q");
    if (top) {
        top.value = q;
    }
    status.textContent = "Loading the index\u2026";
    fetch("search-index.json").then(function (r) {
        if (!r.ok) {
            throw new Error("HTTP " + r.status);
        }
        return r.json();
    }).then(function (data) {
        index = data;
        show(input.value);
        var timer = null;
        input.addEventListener("input", function () {
            clearTimeout(timer);
            timer = setTimeout(function () {
                var url = new URL(window.location.href);
                url.searchParams.set("q", input.value);
                history.replaceState(null, "", url);
                show(input.value);
            }, 120);
        });
    }).catch(function (e) {
        status.textContent = "The search index could not be loaded: " +
            e.message;
    });
}());
