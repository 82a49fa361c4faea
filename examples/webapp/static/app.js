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

  function wireLogin() {
    var form = document.getElementById("login-form");
    if (!form) return;
    if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
      var warn = document.getElementById("insecure");
      if (warn) warn.hidden = false;
    }
    var sending = false;
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      if (sending) return;
      sending = true;
      var status = document.getElementById("fp-status");
      if (status) status.textContent = "Fingerprinting this browser…";
      var useRupt = form.getAttribute("data-sdk") === "rupt" && window.Rupt;
      var fp = "", last = "", version = "";
      try {
        var h = useRupt ? await window.Rupt.getHash() : await window.ato.getHash();
        fp = h[0] || "";
        last = fp && h[1] ? h[1] : "";
        version = useRupt ? form.getAttribute("data-rupt-version") : window.ato.version;
      } catch (e) {
        // No fingerprint: the server then sees missing_fingerprint.
        console.warn("ato demo: no fingerprint:", e);
      }
      form.elements.fingerprint.value = fp;
      form.elements.last_fingerprint.value = last;
      form.elements.version.value = version;
      form.submit();
    });
    form.setAttribute("data-ready", "true");
  }

  saveAccepted();
  wireLogin();
})();
