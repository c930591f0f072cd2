// After a star rating via htmx, mark the whole card so the "For you" row is refreshed on next view.
document.addEventListener("htmx:responseError", (e) => {
  const msg = e.detail.xhr.responseText || "Error";
  alert(msg);
});
