(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".finding"));
  var get = function (id) { return document.getElementById(id); };
  var status = get("f-status"), severity = get("f-severity"), domain = get("f-domain"), text = get("f-text");
  // Totals from the rows themselves: the page checks its own summary.
  var totals = {};
  items.forEach(function (el) { totals[el.dataset.status] = (totals[el.dataset.status] || 0) + 1; });
  ["pass", "fail", "error", "waived", "not-applicable"].forEach(function (s) {
    var el = get("js-" + s);
    if (el) { el.textContent = String(totals[s] || 0); }
  });
  function apply() {
    var q = text.value.trim().toLowerCase(), shown = 0;
    items.forEach(function (el) {
      var ok = (!status.value || el.dataset.status === status.value) &&
        (!severity.value || el.dataset.severity === severity.value) &&
        (!domain.value || el.dataset.domain === domain.value) &&
        (!q || el.textContent.toLowerCase().indexOf(q) !== -1);
      el.hidden = !ok;
      if (ok) { shown += 1; }
    });
    get("shown-count").textContent = String(shown);
    get("no-match").hidden = shown !== 0;
  }
  [status, severity, domain].forEach(function (el) { el.addEventListener("change", apply); });
  text.addEventListener("input", apply);
  get("expand").addEventListener("click", function () { items.forEach(function (el) { if (!el.hidden) { el.open = true; } }); });
  get("collapse").addEventListener("click", function () { items.forEach(function (el) { el.open = false; }); });
  apply();
}());
