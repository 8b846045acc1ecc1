// Progressive enhancement only: every form works without this file. It checks the query as you type and shows the
// preview without reloading, by posting the same form (with its CSRF field) to /subscriptions/check and
// /subscriptions/preview. The preview comes back as HTML rendered (and escaped) by the server; nothing from the
// response is ever evaluated.
(function () {
  "use strict";
  const CHECK_DELAY_MS = 400;

  function formBody(form, action) {
    const body = new URLSearchParams(new FormData(form));
    if (action) body.set("action", action);
    return body;
  }

  async function post(url, body) {
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
    });
  }

  function setupCheck(form) {
    const query = form.querySelector("[data-check-url]");
    const status = form.querySelector("#query-status");
    if (!query || !status) return;
    let timer = null;
    let seq = 0;
    query.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(async function () {
        const mine = ++seq;
        if (!query.value.trim()) { status.textContent = ""; return; }
        try {
          const resp = await post(query.dataset.checkUrl, formBody(form));
          const result = await resp.json();
          if (mine !== seq) return;  // a newer keystroke's answer wins
          status.textContent = result.ok ? "query OK" : result.error;
          status.className = "query-status " + (result.ok ? "ok" : "bad");
        } catch (err) {
          status.textContent = "";
        }
      }, CHECK_DELAY_MS);
    });
  }

  function setupPreview(form) {
    const button = form.querySelector("[data-preview-url]");
    if (!button) return;
    button.addEventListener("click", async function (event) {
      event.preventDefault();
      button.disabled = true;
      try {
        const resp = await post(button.dataset.previewUrl, formBody(form, "preview"));
        const html = await resp.text();
        const block = document.getElementById("preview-block");
        if (block && (resp.ok || resp.status === 422)) {
          const holder = document.createElement("div");
          holder.innerHTML = html;  // server-rendered, autoescaped; inert under the CSP in any case
          const fresh = holder.querySelector("#preview-block");
          if (fresh) block.replaceWith(fresh);
        } else {
          form.submit();  // fall back to the plain form post
        }
      } finally {
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("sub-form");
    if (!form) return;
    setupCheck(form);
    setupPreview(form);
  });
})();
