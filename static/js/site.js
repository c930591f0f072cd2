// Progressive enhancement for movierec. Everything works without it (plain forms);
// with it, htmx does the requests and this file shows what happened.
(function () {
  "use strict";
  let toastTimer = null;

  function toast(text, isError) {
    const box = document.getElementById("toast");
    if (!box || !text) return;
    box.textContent = text;
    box.classList.toggle("error", Boolean(isError));
    box.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => box.classList.remove("show"), 3500);
  }

  // The server sends HX-Trigger {"movierec:announce": "..."} after a rating or list change.
  document.addEventListener("movierec:announce", (e) => toast(e.detail.value, false));

  // Onboarding: keep the "rated so far" counter and progress bar in step with ratings.
  document.addEventListener("movierec:rated", (e) => {
    const count = Number(e.detail.count);
    document.querySelectorAll("[data-rated-count]").forEach((el) => { el.textContent = String(count); });
    const bar = document.getElementById("onb-progress");
    if (bar) bar.value = Math.min(count, Number(bar.max));
    const done = document.getElementById("onboarding-done");
    const form = done && done.closest("[data-min]");
    if (done && form && count >= Number(form.dataset.min)) done.classList.remove("secondary");
  });

  document.addEventListener("htmx:responseError", (e) => {
    const xhr = e.detail.xhr;
    const type = xhr.getResponseHeader("Content-Type") || "";
    const text = type.startsWith("text/plain") && xhr.responseText ? xhr.responseText : document.body.dataset.errorText;
    toast(text, true);
  });
  document.addEventListener("htmx:sendError", () => toast(document.body.dataset.errorText, true));

  // Focus after a swap: the pressed star, the toggled button, the Undo button and a restored
  // card carry autofocus, which htmx honours.
})();
