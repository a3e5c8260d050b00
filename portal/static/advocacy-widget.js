/*! Advocacy Portal widget: no dependencies; see the README's "Embeddable widget" */
(function (w, d) {
  "use strict";
  var W = "Advocacy widget: ";
  if (w.AdvocacyWidget) {
    console.warn(W + "widget.js is loaded twice; the second copy does nothing. For more widgets use <div data-advocacy-widget data-mode=...>");
    return;
  }
  var me = d.currentScript, base = me && me.src;
  if (!base) return console.warn(W + "load widget.js with a plain <script src> tag");
  var S = {
    signin: "Sign in to get your link", link: "Your referral link", copy: "Copy link",
    copied: "Link copied", copyFailed: "Press Ctrl+C to copy the link", share: "Share on",
    qr: "QR code of your referral link", heading: "What our customers say", prev: "Previous",
    next: "Next", verified: "Verified customer", incentivised: "Incentivised",
    rated: "Rated {n} out of 5", overall: "{n} out of 5 from {count} {counted}",
    overallOne: "{n} out of 5 from 1 {counted}",
    slide: "{n} of {total}", join: "Join {name}", empty: "No testimonials yet."
  };
  var CSS = ":host{all:initial!important;display:block!important;visibility:visible!important;min-height:var(--advocacy-height)!important;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif!important}" +
    ".w{--bg:#fff;--fg:#1b1b1f;--mu:#55565e;--bd:#cfd0d6;--ac:var(--advocacy-accent,#1f4fbf);--af:#fff;box-sizing:border-box;background:var(--bg);color:var(--fg);border:1px solid var(--bd);border-radius:12px;padding:16px;text-align:left}" +
    "@media (prefers-color-scheme:dark){.w:not(.light){--bg:#1d1e22;--fg:#f1f1f4;--mu:#b4b5bd;--bd:#474852;--ac:var(--advocacy-accent,#9dbbff);--af:#111}}" +
    ".w.dark{--bg:#1d1e22;--fg:#f1f1f4;--mu:#b4b5bd;--bd:#474852;--ac:var(--advocacy-accent,#9dbbff);--af:#111}" +
    ":host([hidden]){display:none!important}*{box-sizing:border-box}h2{font-size:1.2em;margin:0 0 6px}p{margin:0 0 8px}.m{color:var(--mu)}" +
    "a,button,input{font:inherit;color:inherit}a{color:var(--ac)}:focus-visible{outline:3px solid var(--ac);outline-offset:2px}" +
    ".b{display:inline-block;border:0;border-radius:8px;padding:8px 14px;background:var(--ac);color:var(--af);cursor:pointer;text-decoration:none;font-weight:600}" +
    ".g{display:grid;grid-template-columns:1fr auto;gap:16px;align-items:start}.r{display:flex;gap:8px;margin:4px 0}" +
    "input{flex:1;min-width:0;padding:7px 9px;border:1px solid var(--bd);border-radius:8px;background:var(--bg)}" +
    "ul{list-style:none;margin:8px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:6px}" +
    ".s{padding:4px 10px;border:1px solid var(--bd);border-radius:99px;text-decoration:none;color:var(--fg)}" +
    "svg{display:block;width:124px;height:124px;border-radius:6px}" +
    ".st{color:#b8860b;letter-spacing:2px}.l{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:16px;margin:0;padding:0}" +
    ".c{display:flex;flex-direction:column;height:270px;overflow:hidden;border:1px solid var(--bd);border-radius:10px;padding:14px}" +
    "blockquote{margin:6px 0 auto;overflow:hidden;display:-webkit-box;-webkit-line-clamp:4;-webkit-box-orient:vertical}" +
    ".a{display:flex;gap:8px;align-items:center;font-weight:600}.a img{width:32px;height:32px;border-radius:50%;object-fit:cover}" +
    ".t{font-size:.8em;border:1px solid var(--bd);border-radius:4px;padding:0 5px;margin-right:4px;color:var(--mu)}" +
    ".n{display:flex;justify-content:space-between;align-items:center;height:40px;margin-top:8px}.hd{height:62px;overflow:hidden}";
  var sheet;
  function styles() {
    if (!sheet && w.CSSStyleSheet) {
      try { sheet = new CSSStyleSheet(); sheet.replaceSync(CSS); } catch (e) { sheet = null; }
    }
    return sheet;
  }
  function fill(s, o) { return s.replace(/\{(\w+)\}/g, function (m, k) { return o[k] == null ? m : o[k]; }); }
  function el(tag, attrs, kids) {
    var e = d.createElement(tag), k;
    for (k in attrs) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
    (kids || []).forEach(function (c) { if (c != null) e.append(c); });
    return e;
  }
  // Only http(s) and mailto URLs are ever put in an href or src; anything else is dropped.
  function safe(u) {
    if (!u) return null;
    try { u = new URL(u, base); } catch (e) { return null; }
    return /^(https?|mailto):$/.test(u.protocol) ? u.href : null;
  }
  function via(u) {
    u = safe(u);
    if (!u) return null;
    u = new URL(u); u.searchParams.set("via", "widget");
    return u.href;
  }

  function Widget(host, opts) {
    this.h = host; this.o = opts;
    this.t = function (k) {
      var v = opts["text" + k[0].toUpperCase() + k.slice(1)];
      return v != null ? v : S[k];
    };
  }
  Widget.prototype.emit = function (name, detail) {
    this.h.dispatchEvent(new CustomEvent("advocacy:" + name, { bubbles: true, composed: true, detail: detail }));
  };
  Widget.prototype.start = function () {
    var o = this.o, h = this.h, self = this, mode = o.mode, url;
    if (mode !== "referral" && mode !== "testimonials") {
      console.warn(W + (mode ? 'unknown data-mode "' + mode + '"' : "data-mode is missing") + ': use "referral" or "testimonials"');
      return;
    }
    var carousel = o.layout === "carousel",
      limit = Math.min(Math.max(parseInt(o.limit, 10) || (carousel ? 6 : 3), 1), 12);
    if (mode === "referral") {
      url = new URL("api/referral", base);
      if (o.token) url.searchParams.set("token", o.token);
      if (o.campaign) url.searchParams.set("campaign", o.campaign);
    } else {
      url = new URL("../api/testimonials", base);
      url.searchParams.set("per_page", limit);
      if (o.product) url.searchParams.set("product", o.product);
      if (o.kind) url.searchParams.set("kind", o.kind);
    }
    // The request goes first: the shadow root, the style sheet and the layout read below run while
    // it is on the network.
    var abort = w.AbortController && new AbortController(),
      timer = setTimeout(function () { abort && abort.abort(); }, parseInt(o.timeout, 10) || 8000);
    var pending = fetch(url, { credentials: "omit", signal: abort && abort.signal });
    var root = this.r = h.shadowRoot || h.attachShadow({ mode: "open" }), css = styles();
    if (css) root.adoptedStyleSheets = [css];
    // Reserve the space the finished widget takes, so nothing on the page moves when it fills in.
    var cols = Math.max(1, Math.floor((h.clientWidth - 18) / 246));
    var height = mode === "referral" ? (o.token ? 224 : 170) :
      96 + (carousel ? 318 : Math.ceil(limit / cols) * 286 - 16);
    h.style.setProperty("--advocacy-height", height + "px");
    pending
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        clearTimeout(timer);
        var box = el("div", { "class": "w" + (o.theme === "dark" || o.theme === "light" ? " " + o.theme : ""), part: "widget" });
        self[mode](box, data);
        root.replaceChildren(box);
        if (!css) root.prepend(el("style", {}, [CSS]));
        self.emit("ready", { mode: mode, signedIn: !!(data.advocate) });
      })
      .catch(function (e) {
        clearTimeout(timer);
        h.hidden = true;
        console.warn(W + "could not load " + url.pathname + " (" + (e && e.name === "AbortError" ? "timed out" : e.message) +
          "). Is this site's origin, " + location.origin + ", in ADVOCACY_WIDGET_ORIGINS?");
      });
  };

  Widget.prototype.referral = function (box, data) {
    var t = this.t, self = this, offer = data.offer || {}, me = data.advocate;
    var head = [el("h2", {}, [this.o.textTitle || offer.title]), el("p", {}, [this.o.textOffer || offer.text])];
    if (offer.reward) head.push(el("p", { "class": "m" }, [offer.reward]));
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", this.o.textTitle || offer.title || "Referral");
    if (!me) {
      var signin = safe(data.signin_url);
      if (signin) head.push(el("a", { "class": "b", href: signin, target: "_top" }, [t("signin")]));
      return box.append.apply(box, head);
    }
    var link = me.link, status = el("p", { role: "status", "aria-live": "polite", "class": "m" }),
      input = el("input", { id: "l", readonly: "", value: link, "aria-label": t("link") }),
      copy = el("button", { "class": "b", type: "button" }, [t("copy")]);
    copy.onclick = function () {
      function done(ok) {
        status.textContent = ok ? t("copied") : t("copyFailed");
        if (ok) self.emit("copy", { link: link });
      }
      input.select();
      if (navigator.clipboard && w.isSecureContext) navigator.clipboard.writeText(link).then(function () { done(true); }, function () { done(d.execCommand("copy")); });
      else done(d.execCommand("copy"));
    };
    var list = el("ul", { "aria-label": t("share") });
    (me.share || []).forEach(function (s) {
      var href = safe(s.url);
      if (!href) return;
      var a = el("a", { "class": "s", href: href, target: s.network === "email" ? null : "_blank", rel: "noopener noreferrer",
        "aria-label": t("share") + " " + s.label }, [s.label]);
      a.onclick = function () { self.emit("share", { network: s.network, link: link }); };
      list.append(el("li", {}, [a]));
    });
    var left = el("div", {}, head.concat([el("div", { "class": "r" }, [input, copy]), status, list]));
    box.append(el("div", { "class": "g" }, [left, me.qr ? this.qr(me.qr) : null]));
  };

  Widget.prototype.qr = function (qr) {
    var N = "http://www.w3.org/2000/svg", svg = d.createElementNS(N, "svg"), bg = d.createElementNS(N, "rect"),
      p = d.createElementNS(N, "path"), n = qr.size + 4;
    svg.setAttribute("viewBox", "-2 -2 " + n + " " + n);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", this.t("qr"));
    bg.setAttribute("x", -2); bg.setAttribute("y", -2); bg.setAttribute("width", n); bg.setAttribute("height", n);
    bg.setAttribute("fill", "#fff");
    p.setAttribute("d", /^[MHVhvz0-9 .-]*$/.test(qr.path) ? qr.path : "");
    p.setAttribute("fill", "#111");
    svg.append(bg, p);
    return svg;
  };

  Widget.prototype.testimonials = function (box, data) {
    var t = this.t, items = data.items || [], all = data.ratings && data.ratings.overall, carousel = this.o.layout === "carousel";
    box.append(el("div", { "class": "hd" }, [el("h2", { id: "h" }, [t("heading")]),
      all && all.count ? el("p", { "class": "m" }, [fill(t(all.count === 1 ? "overallOne" : "overall"),
        // The server's figures and words, as the wall writes them ("4,7" in German, "3 ratings").
        { n: all.average_text, count: all.count_text, counted: all.counted })]) : null]));
    if (!items.length) return box.append(el("p", {}, [t("empty")]));
    var cards = items.map(function (it, i) {
      var r = Math.max(0, Math.min(5, it.rating | 0)), photo = safe(it.photo_url), join = via(it.referral_url),
        labels = el("p", {}, [
          it.labels && it.labels.verified_customer ? el("span", { "class": "t" }, [t("verified")]) : null,
          it.labels && it.labels.incentivised ? el("span", { "class": "t", title: it.labels.incentive_disclosure }, [t("incentivised")]) : null
        ]);
      // The list item (or slide) is a <div> holding the card's <article>: ARIA lets no <article> be one.
      return el("div", carousel ? { role: "group", "aria-roledescription": "slide", "aria-label": fill(t("slide"), { n: i + 1, total: items.length }) } : { role: "listitem" }, [el("article", { "class": "c" }, [
        el("div", { "class": "st", role: "img", "aria-label": fill(t("rated"), { n: r }) }, ["★★★★★".slice(0, r) + "☆☆☆☆☆".slice(r)]),
        it.title ? el("strong", {}, [it.title]) : null,
        el("blockquote", {}, [it.body]),
        el("div", { "class": "a" }, [photo ? el("img", { src: photo, alt: "", width: 32, height: 32, loading: "lazy" }) : null,
          el("span", {}, [it.display_name, it.role ? el("span", { "class": "m" }, [" · " + it.role]) : null])]),
        labels,
        join ? el("a", { href: join, target: "_top" }, [fill(t("join"), { name: it.display_name })]) : null
      ])]);
    });
    if (!carousel) return box.append(el("div", { "class": "l", role: "list", "aria-labelledby": "h" }, cards));
    var at = 0, live = el("div", { "aria-live": "polite" }), prev = el("button", { "class": "b", type: "button", "aria-label": t("prev") }, ["‹"]),
      next = el("button", { "class": "b", type: "button", "aria-label": t("next") }, ["›"]), pos = el("span", { "class": "m" });
    function show(i) {
      at = (i + cards.length) % cards.length;
      live.replaceChildren(cards[at]);
      pos.textContent = fill(t("slide"), { n: at + 1, total: cards.length });
    }
    prev.onclick = function () { show(at - 1); };
    next.onclick = function () { show(at + 1); };
    var region = el("div", { role: "region", "aria-roledescription": "carousel", "aria-labelledby": "h" }, [live, el("div", { "class": "n" }, [prev, pos, next])]);
    region.onkeydown = function (e) {
      if (e.key === "ArrowLeft" || e.key === "ArrowRight") { show(at + (e.key === "ArrowLeft" ? -1 : 1)); e.preventDefault(); }
    };
    show(0);
    box.append(region);
  };

  function mount(node) {
    if (!node || node.advocacyWidget) return;
    var host = node;
    if (node.tagName === "SCRIPT") {
      host = el("div", { "class": "advocacy-widget" });
      node.parentNode.insertBefore(host, node);
    }
    node.advocacyWidget = new Widget(host, node.dataset);
    node.advocacyWidget.start();
    return node.advocacyWidget;
  }
  w.AdvocacyWidget = { version: 1, mount: mount };
  if (me.dataset.mode) mount(me);
  function all(end) {
    var spots = d.querySelectorAll("[data-advocacy-widget]");
    [].forEach.call(spots, mount);
    if (end && !spots.length && !me.dataset.mode) console.warn(W + 'data-mode is missing: use "referral" or "testimonials"');
  }
  if (d.readyState === "loading") {
    // Mount placeholders as the parser adds them, before they are ever painted empty.
    var seen = new MutationObserver(function () { all(); });
    seen.observe(d.documentElement, { childList: true, subtree: true });
    all();
    d.addEventListener("DOMContentLoaded", function () { seen.disconnect(); all(1); });
  } else all(1);
})(window, document);
