/*
 * ato.js — a small browser fingerprint in the fuzzy format of the Rupt SDK's
 * getHash(), for servers that use github.com/atoguard/ato. Plain JavaScript,
 * no build step, no network: it only reads the browser and hashes locally.
 *
 *   const [fingerprint, lastFingerprint] = await ato.getHash();
 *   // … send both with the login form; once the server let the login in:
 *   ato.saveHash(fingerprint);
 *
 * The fingerprint is exactly 2048 lowercase hex characters. Each signal group
 * (userAgent, screen, timezone, …) owns a segment: the keys are sorted, each
 * gets ceil(2048 / groups) characters, filled with SHA-256 of the value's JSON
 * (extended by hashing the digest again where a segment is longer than one
 * digest); a group that is an object splits its segment among its own keys
 * the same way. So two hashes of one browser differ only in the segments of
 * the signals that changed, and the server tells a drifted browser from
 * another one by the fraction of equal characters.
 *
 * There are 22 groups, like the SDK's, so that one group changing entirely
 * (a trip to another time zone, a docked laptop's screen) still leaves 0.95
 * of the hash equal: the server's default threshold for "same device".
 * Measured in headless Chromium against a desktop: time zone 0.956, screen
 * size 0.956, user agent 0.969, locale 0.975; time zone and screen at once
 * 0.911 (the same device only through the last hash); a phone 0.79.
 *
 * crypto.subtle, and so getHash, needs a secure context: https://, or
 * http://localhost and http://127.0.0.1.
 */
(function (global) {
  "use strict";

  var HASH_LEN = 2048;
  var STORAGE_KEY = "ato_last_fp";
  var VERSION = "ato.js/1";

  // attempt returns f(), or null when f throws or returns undefined: a
  // signal the browser refuses to give is a value too.
  function attempt(f) {
    try {
      var v = f();
      return v === undefined ? null : v;
    } catch (e) {
      return null;
    }
  }

  function canvas() {
    var c = document.createElement("canvas");
    c.width = 240;
    c.height = 60;
    var x = c.getContext("2d");
    if (!x) return null;
    x.textBaseline = "top";
    x.font = "16px Arial";
    x.fillStyle = "#f60";
    x.fillRect(120, 4, 90, 28);
    x.fillStyle = "#069";
    x.fillText("ato.js fingerprint \u263a 1.5", 4, 8);
    x.fillStyle = "rgba(102, 204, 0, 0.7)";
    x.beginPath();
    x.arc(60, 42, 14, 0, Math.PI * 2);
    x.fill();
    return c.toDataURL();
  }

  var FONTS = ["Arial", "Arial Black", "Calibri", "Comic Sans MS", "Courier New", "DejaVu Sans",
    "Georgia", "Helvetica", "Liberation Sans", "Noto Sans", "Roboto", "Segoe UI",
    "Times New Roman", "Ubuntu", "Verdana"];

  // fonts measures a text in each font, falling back to monospace: a font
  // that is not installed measures as monospace.
  function fonts() {
    var x = document.createElement("canvas").getContext("2d");
    if (!x) return null;
    var text = "mmmmmmmmmmlli WQ@#1";
    var out = {};
    FONTS.forEach(function (f) {
      x.font = "48px '" + f + "', monospace";
      out[f] = Math.round(x.measureText(text).width * 100) / 100;
    });
    return out;
  }

  // CSS_PROBES are features that arrived in different browser versions.
  var CSS_PROBES = ["anchor-name: --a", "aspect-ratio: 1", "color: color-mix(in srgb, red, blue)",
    "container-type: inline-size", "field-sizing: content", "interpolate-size: allow-keywords",
    "text-wrap: balance", "view-transition-name: a"];

  function webgl() {
    var c = document.createElement("canvas");
    var gl = c.getContext("webgl") || c.getContext("experimental-webgl");
    if (!gl) return null;
    var dbg = gl.getExtension("WEBGL_debug_renderer_info");
    var out = {
      maxTexture: gl.getParameter(gl.MAX_TEXTURE_SIZE),
      renderer: gl.getParameter(dbg ? dbg.UNMASKED_RENDERER_WEBGL : gl.RENDERER),
      shading: gl.getParameter(gl.SHADING_LANGUAGE_VERSION),
      vendor: gl.getParameter(dbg ? dbg.UNMASKED_VENDOR_WEBGL : gl.VENDOR),
      version: gl.getParameter(gl.VERSION)
    };
    var lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
    return out;
  }

  function media() {
    var q = function (s) { return window.matchMedia(s).matches; };
    return {
      anyHover: q("(any-hover: hover)"),
      dark: q("(prefers-color-scheme: dark)"),
      forcedColors: q("(forced-colors: active)"),
      gamutP3: q("(color-gamut: p3)"),
      hover: q("(hover: hover)"),
      pointerCoarse: q("(pointer: coarse)"),
      pointerFine: q("(pointer: fine)"),
      reducedMotion: q("(prefers-reduced-motion: reduce)")
    };
  }

  function storageWorks(s) {
    try {
      s.setItem("ato_probe", "1");
      s.removeItem("ato_probe");
      return true;
    } catch (e) {
      return false;
    }
  }

  // signals collects the groups. Values that follow the clock (today's
  // time-zone offset, a date in the local zone) are taken at fixed dates,
  // so that the hash does not change at a daylight-saving switch.
  function signals() {
    var n = navigator;
    return {
      canvas: attempt(canvas),
      colorDepth: attempt(function () { return { color: screen.colorDepth, pixel: screen.pixelDepth }; }),
      cookies: attempt(function () { return n.cookieEnabled; }),
      css: attempt(function () {
        var out = {};
        CSS_PROBES.forEach(function (p) { out[p] = CSS.supports(p); });
        return out;
      }),
      features: attempt(function () {
        return {
          bluetooth: "bluetooth" in n, clipboard: "clipboard" in n, credentials: "credentials" in n,
          gpu: "gpu" in n, hid: "hid" in n, serial: "serial" in n, serviceWorker: "serviceWorker" in n,
          share: "share" in n, usb: "usb" in n, wakeLock: "wakeLock" in n,
          webAssembly: typeof WebAssembly === "object", xr: "xr" in n
        };
      }),
      fonts: attempt(fonts),
      hardware: attempt(function () { return { cores: n.hardwareConcurrency, memory: n.deviceMemory }; }),
      intl: attempt(function () {
        var o = Intl.DateTimeFormat().resolvedOptions();
        return {
          calendar: o.calendar, locale: o.locale, numberingSystem: o.numberingSystem,
          date: new Date(Date.UTC(2020, 0, 2, 3, 4, 5)).toLocaleString(undefined, { timeZone: "UTC" }),
          number: new Intl.NumberFormat().format(1234567.891)
        };
      }),
      language: attempt(function () { return { language: n.language, languages: (n.languages || []).join(",") }; }),
      math: attempt(function () {
        return {
          acosh: Math.acosh(1e300), asinh: Math.asinh(1), atanh: Math.atanh(0.5), cbrt: Math.cbrt(100),
          cosh: Math.cosh(10), expm1: Math.expm1(1), log1p: Math.log1p(10), sinh: Math.sinh(1),
          tan: Math.tan(-1e300), tanh: Math.tanh(1)
        };
      }),
      media: attempt(media),
      pixelRatio: attempt(function () { return window.devicePixelRatio; }),
      platform: attempt(function () { return n.platform; }),
      plugins: attempt(function () {
        return { mimeTypes: n.mimeTypes ? n.mimeTypes.length : null, pdfViewer: n.pdfViewerEnabled, plugins: n.plugins ? n.plugins.length : null };
      }),
      privacy: attempt(function () { return { doNotTrack: n.doNotTrack, gpc: n.globalPrivacyControl }; }),
      screen: attempt(function () {
        return { availHeight: screen.availHeight, availWidth: screen.availWidth, height: screen.height, width: screen.width };
      }),
      storage: attempt(function () {
        return {
          caches: "caches" in window, indexedDB: !!window.indexedDB,
          local: storageWorks(window.localStorage), session: storageWorks(window.sessionStorage)
        };
      }),
      timezone: attempt(function () {
        return {
          january: new Date(2024, 0, 1).getTimezoneOffset(), july: new Date(2024, 6, 1).getTimezoneOffset(),
          zone: Intl.DateTimeFormat().resolvedOptions().timeZone
        };
      }),
      touch: attempt(function () { return { maxTouchPoints: n.maxTouchPoints, touchEvent: "ontouchstart" in window }; }),
      userAgent: attempt(function () {
        var d = n.userAgentData;
        return {
          brands: d ? d.brands.map(function (b) { return b.brand + "/" + b.version; }).join(",") : null,
          mobile: d ? d.mobile : null,
          platform: d ? d.platform : null,
          string: n.userAgent
        };
      }),
      vendor: attempt(function () { return { productSub: n.productSub, vendor: n.vendor }; }),
      webgl: attempt(webgl)
    };
  }

  async function sha256hex(text) {
    var digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.prototype.map.call(new Uint8Array(digest), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // segment returns len hex characters for a value: SHA-256 of its JSON,
  // then SHA-256 of that digest's hex, and so on, until there are enough.
  async function segment(value, len) {
    var h = await sha256hex(JSON.stringify(value === undefined ? null : value));
    var out = h;
    while (out.length < len) {
      h = await sha256hex(h);
      out += h;
    }
    return out.slice(0, len);
  }

  function isPlainObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  // fuzzy hashes obj into len characters, as the SDK does: sorted keys,
  // ceil(len / keys) characters each, an object with at least two characters
  // for each of its keys split the same way, one character taken off each of
  // the first segments so that they add up to len, padded with "0".
  async function fuzzy(obj, len) {
    var keys = Object.keys(obj).sort();
    if (keys.length === 0) return "".padEnd(len, "0");
    var per = Math.ceil(len / keys.length);
    var over = keys.length * per - len;
    var parts = await Promise.all(keys.map(function (k) {
      var v = obj[k];
      if (isPlainObject(v) && Object.keys(v).length > 0 && per >= 2 * Object.keys(v).length) {
        return fuzzy(v, per);
      }
      return segment(v, per);
    }));
    for (var i = 0; i < over; i++) {
      parts[i % parts.length] = parts[i % parts.length].slice(0, -1);
    }
    return parts.join("").slice(0, len).padEnd(len, "0");
  }

  function lastHash() {
    try {
      return window.localStorage.getItem(STORAGE_KEY);
    } catch (e) {
      return null;
    }
  }

  global.ato = {
    // version names this script in the request (ato.Request.Version).
    version: VERSION,
    // getHash resolves to [fingerprint, lastFingerprint]: this browser's
    // hash now, and the one saved by saveHash (null when none was).
    getHash: async function () {
      return [await fuzzy(signals(), HASH_LEN), lastHash()];
    },
    // saveHash keeps the hash as the browser's last one. Call it after the
    // server accepted the login that sent it.
    saveHash: function (h) {
      try {
        window.localStorage.setItem(STORAGE_KEY, h);
      } catch (e) {
        // Storage refused (private mode, quota): the next login sends no last hash.
      }
    },
    // signals returns what is hashed, to look at in the console.
    signals: signals
  };
})(window);
