// The console's only script. Every page works without it; it only makes things quicker.
// Behaviour hangs off explicit data-* attributes so it stays greppable.
(function () {
  "use strict";

  function init(root) {
    // <select data-autosubmit>: submit the form on change (e.g. the org switcher).
    root.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      if (el.dataset.bound) return;
      el.dataset.bound = "1";
      el.addEventListener("change", function () { el.form.requestSubmit(); });
    });
    // [data-hide-with-js]: controls only needed without JavaScript.
    root.querySelectorAll("[data-hide-with-js]").forEach(function (el) { el.hidden = true; });
    // [data-copy-target="#id"]: copy the target input's value to the clipboard.
    root.querySelectorAll("[data-copy-target]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var target = document.querySelector(button.dataset.copyTarget);
        if (!target) return;
        var value = target.value !== undefined ? target.value : target.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(value).then(done, function () { target.select(); document.execCommand("copy"); done(); });
        } else {
          target.select();
          document.execCommand("copy");
          done();
        }
      });
    });
    // <dialog data-onload-showmodal>: open as a modal as soon as it is on the page.
    root.querySelectorAll("dialog[data-onload-showmodal]").forEach(function (dialog) {
      if (!dialog.open) dialog.showModal();
    });
    // <button data-open-dialog="#id">: open a confirmation dialog.
    root.querySelectorAll("[data-open-dialog]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function (event) {
        var dialog = document.querySelector(button.dataset.openDialog);
        if (dialog) { event.preventDefault(); dialog.showModal(); }
      });
    });
    // <button data-close-dialog>: close the dialog it sits in.
    root.querySelectorAll("[data-close-dialog]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function (event) {
        event.preventDefault();
        button.closest("dialog").close();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
  window.ConsoleUI = { init: init };
})();
