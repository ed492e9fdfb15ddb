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
      // A dialog rendered `open` (so it shows without JS) is re-opened as a real modal.
      if (dialog.open && !dialog.matches(":modal")) dialog.close();
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
    // <button data-confirm-with="#dialog" data-confirm-title/-text/-label>: one shared
    // confirmation dialog for a list; confirming posts the button's own form.
    root.querySelectorAll("[data-confirm-with]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function (event) {
        var dialog = document.querySelector(button.dataset.confirmWith);
        if (!dialog) return;
        event.preventDefault();
        dialog.querySelector("form").action = button.form.action;
        dialog.querySelector("[data-confirm-title]").textContent = button.dataset.confirmTitle;
        dialog.querySelector("[data-confirm-text]").textContent = button.dataset.confirmText;
        dialog.querySelector("[data-confirm-label]").textContent = button.dataset.confirmLabel;
        dialog.showModal();
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
    // [data-error-summary]: after a failed submit, focus moves to what went wrong (the page's
    // own `autofocus` does it on a full load; this covers a step swapped in by htmx).
    var summary = root.querySelector && root.querySelector("[data-error-summary]");
    if (summary && document.activeElement !== summary) summary.focus();
    // [data-shown-with="name=value"]: shown only while the radio button `name` with `value` is
    // checked (e.g. the key fields of Private key JWT). Without JS it always shows.
    root.querySelectorAll("[data-shown-with]").forEach(function (el) {
      if (el.dataset.bound) return;
      el.dataset.bound = "1";
      var parts = el.dataset.shownWith.split("=");
      var form = el.closest("form");
      if (!form) return;
      var radios = form.querySelectorAll('input[type="radio"][name="' + parts[0] + '"]');
      var sync = function () {
        var checked = form.querySelector('input[type="radio"][name="' + parts[0] + '"]:checked');
        el.hidden = !checked || checked.value !== parts[1];
      };
      radios.forEach(function (radio) { radio.addEventListener("change", sync); });
      sync();
    });
    // [data-js-only]: controls that need JavaScript (e.g. Copy buttons), hidden until it runs.
    root.querySelectorAll("[data-js-only]").forEach(function (el) { el.hidden = false; });
    // [data-scope-group]: its [data-select-all] box ticks every [data-select-member] box and
    // follows them (ticked when all are, "mixed" when some are). Without JS the server expands it.
    root.querySelectorAll("[data-scope-group]").forEach(function (group) {
      if (group.dataset.bound) return;
      group.dataset.bound = "1";
      var all = group.querySelector("[data-select-all]");
      var members = Array.prototype.slice.call(group.querySelectorAll("[data-select-member]"));
      if (!all || !members.length) return;
      var sync = function () {
        var ticked = members.filter(function (box) { return box.checked; }).length;
        all.checked = ticked === members.length;
        all.indeterminate = ticked > 0 && ticked < members.length;
      };
      all.addEventListener("change", function () {
        members.forEach(function (box) { box.checked = all.checked; });
        sync();
      });
      members.forEach(function (box) { box.addEventListener("change", sync); });
      sync();
    });
    // <dialog data-confirm-close="question" data-confirm-close-href="url">: Escape (or any other
    // close) asks first; confirming leaves for the href, declining keeps the dialog open.
    root.querySelectorAll("dialog[data-confirm-close]").forEach(function (dialog) {
      if (dialog.dataset.boundClose) return;
      dialog.dataset.boundClose = "1";
      var leave = function () {
        dialog.dataset.leaving = "1";
        window.location.assign(dialog.dataset.confirmCloseHref);
      };
      dialog.addEventListener("cancel", function (event) {
        event.preventDefault();
        if (window.confirm(dialog.dataset.confirmClose)) leave();
      });
      // Browsers may close without a cancelable "cancel" (e.g. a second Escape): reopen unless confirmed.
      dialog.addEventListener("close", function () {
        if (dialog.open || dialog.dataset.leaving || !dialog.isConnected) return;
        if (window.confirm(dialog.dataset.confirmClose)) leave();
        else dialog.showModal();
      });
    });
  }

  // [data-replace-url="/path"]: this response answered a POST (e.g. it shows a new secret once);
  // make the address the page's own, so a reload is a plain GET that re-sends nothing.
  function replaceUrl(root) {
    var el = root.querySelector("[data-replace-url]");
    if (el && window.history.replaceState) window.history.replaceState(null, "", el.dataset.replaceUrl);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); replaceUrl(document); });
  document.addEventListener("htmx:load", function (event) { init(event.target); });
  window.ConsoleUI = { init: init };
})();
