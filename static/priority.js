/* Priority areas page and decision record: small, optional enhancements (vanilla JS).
   Everything works without this file: forms submit, tables sort through links. */
(function () {
  'use strict';

  // "Print this record" buttons
  document.querySelectorAll('[data-print]').forEach(function (button) {
    button.addEventListener('click', function () { window.print(); });
  });

  // Move keyboard and screen-reader focus to the error summary, as GOV.UK pages do.
  var summary = document.querySelector('[data-error-summary]');
  if (summary) {
    summary.focus();
  }
})();

/* The incident filters of the page (months and type), in one object other scripts
   read (e.g. to put them in the URL): window.incidentFilter =
   {incidents_from: "YYYY-MM", incidents_to: "YYYY-MM", incident_type: "" | type}. */
(function () {
  'use strict';
  var holder = document.getElementById('incidents-counted');
  window.incidentFilter = holder ? JSON.parse(holder.getAttribute('data-incident-filter'))
    : {incidents_from: '', incidents_to: '', incident_type: ''};
})();
