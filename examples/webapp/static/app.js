/*
 * app.js — the demo's page script. All of the demo's JavaScript is in files
 * like this one: the Content-Security-Policy allows no inline script.
 *
 * On the login page it fills the hidden fields fingerprint, last_fingerprint
 * and version from ato.getHash(), or from Rupt.getHash() when the form says
 * data-sdk="rupt", before the form is sent. On a page the server renders after
 * a successful login it saves the hash the server accepted as the browser's
 * last one (data-save-fingerprint): only then, so that a refused or challenged
 * attempt does not become the browser's "previous" hash.
 *
 * The hashing is given 3 seconds; without a hash by then (or without
 * crypto.subtle, outside a secure context) the form goes without one. The
 * challenge's Verify button is disabled once clicked, so a double click sends
 * one code.
 */
(function () {
  "use strict";

  function saveAccepted() {
    var el = document.querySelector("[data-save-fingerprint]");
    if (!el) return;
    var fp = el.getAttribute("data-save-fingerprint");
    var key = el.getAttribute("data-save-key");
    if (!fp) return;
    try {
      if (key === "rpt_last_fp") {
        // The key the Rupt SDK reads its last hash from.
        window.localStorage.setItem(key, fp);
      } else if (window.ato) {
        window.ato.saveHash(fp);
      }
    } catch (e) {
      console.warn("ato demo: could not save the last fingerprint:", e);
    }
  }

  // hashTimeout bounds the fingerprinting: past it the form is sent
  // without a fingerprint rather than never.
  var hashTimeout = 3000;

  function withTimeout(promise, ms) {
    var timer;
    var late = new Promise(function (_, reject) {
      timer = setTimeout(function () {
        reject(new Error("no hash after " + ms + " ms"));
      }, ms);
    });
    return Promise.race([promise, late]).finally(function () {
      clearTimeout(timer);
    });
  }

  function wireLogin() {
    var form = document.getElementById("login-form");
    if (!form) return;
    if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
      var warn = document.getElementById("insecure");
      if (warn) warn.hidden = false;
    }
    var sending = false;
    var status = document.getElementById("fp-status");
    // Back to this page from the back/forward cache: the form can be sent
    // again.
    window.addEventListener("pageshow", function (ev) {
      if (!ev.persisted) return;
      sending = false;
      if (status) status.textContent = "";
    });
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      if (sending) return;
      sending = true;
      if (status) status.textContent = "Fingerprinting this browser…";
      var useRupt = form.getAttribute("data-sdk") === "rupt" && window.Rupt;
      var fp = "", last = "", version = "";
      try {
        var h = await withTimeout(useRupt ? window.Rupt.getHash() : window.ato.getHash(), hashTimeout);
        fp = h[0] || "";
        last = fp && h[1] ? h[1] : "";
        version = fp ? (useRupt ? form.getAttribute("data-rupt-version") : window.ato.version) : "";
      } catch (e) {
        // No fingerprint: the server then sees missing_fingerprint.
        console.warn("ato demo: no fingerprint:", e);
        fp = last = version = "";
      }
      form.elements.fingerprint.value = fp;
      form.elements.last_fingerprint.value = last;
      form.elements.version.value = version;
      form.submit();
    });
    form.setAttribute("data-ready", "true");
  }

  // Forms of class "once" (the challenge's code) are sent once: their
  // button is disabled on submit, and enabled again when the page comes
  // back from the back/forward cache.
  function wireOnce() {
    var forms = document.querySelectorAll("form.once");
    forms.forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (form.getAttribute("data-sent") === "true") {
          ev.preventDefault();
          return;
        }
        form.setAttribute("data-sent", "true");
        form.querySelectorAll("button").forEach(function (b) {
          b.disabled = true;
        });
      });
    });
    window.addEventListener("pageshow", function (ev) {
      if (!ev.persisted) return;
      forms.forEach(function (form) {
        form.removeAttribute("data-sent");
        form.querySelectorAll("button").forEach(function (b) {
          b.disabled = false;
        });
      });
    });
  }

  saveAccepted();
  wireLogin();
  wireOnce();
})();
