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
