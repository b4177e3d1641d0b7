// A link to a closed <details> (the overview's "skip the map" link to the ward table,
// or an address ending in its #id) opens it and moves the focus to its summary.
(function () {
  'use strict';
  function open(id) {
    var target = id && document.getElementById(id);
    if (target && target.tagName === 'DETAILS') {
      target.open = true;
      var summary = target.querySelector('summary');
      if (summary) { summary.focus(); }
    }
  }
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a[href^="#"]');
    if (link) { open(link.getAttribute('href').slice(1)); }
  });
  window.addEventListener('hashchange', function () { open(location.hash.slice(1)); });
  open(location.hash.slice(1));
})();
