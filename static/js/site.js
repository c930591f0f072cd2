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

  // Star ratings: one tab stop per film (the pressed star, else the first), arrow keys move
  // between the stars, Home and End jump, Enter or Space rates. Without this script every star
  // stays a plain button in the tab order.
  function roveStars() {
    document.querySelectorAll(".star-set").forEach((set) => {
      const stars = Array.from(set.querySelectorAll("button.star"));
      const current = stars.find((b) => b.getAttribute("aria-pressed") === "true") || stars[0];
      stars.forEach((b) => { b.tabIndex = b === current ? 0 : -1; });
    });
  }
  const STEP = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 };
  document.addEventListener("keydown", (e) => {
    const star = e.target instanceof Element ? e.target.closest("button.star") : null;
    if (!star) return;
    const stars = Array.from(star.closest(".star-set").querySelectorAll("button.star"));
    let i = stars.indexOf(star);
    if (e.key in STEP) i = Math.min(Math.max(i + STEP[e.key], 0), stars.length - 1);
    else if (e.key === "Home") i = 0;
    else if (e.key === "End") i = stars.length - 1;
    else return;
    e.preventDefault();
    stars.forEach((b, n) => { b.tabIndex = n === i ? 0 : -1; });
    stars[i].focus();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", roveStars);
  else roveStars();
  document.addEventListener("htmx:afterSettle", roveStars);

  // Focus after a swap: the pressed star, the toggled button, the Undo button and a restored
  // card carry autofocus, which htmx honours.
})();
