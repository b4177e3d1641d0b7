/* Map legends in a collapsible panel (issue 18): a "Legend" button with aria-expanded,
   open by default on a wide screen, closed on a phone (<= 640 px) so the map keeps its
   width and height. Works on any element marked data-legend-panel (a key beside a map)
   and on the priority map's legend control (.pr-legend); data-legend-label names the
   button (default "Legend"). Without JavaScript the legend is simply shown. The button is a real <button>, so Enter and Space toggle it. */
(function () {
  'use strict';
  var phone = window.matchMedia('(max-width: 640px)');
  var count = 0;

  function enhance(panel) {
    if (panel.dataset.legendReady) return;
    panel.dataset.legendReady = 'yes';
    count += 1;
    var body = panel.querySelector('[data-legend-body]') || panel;
    if (!body.id) body.id = 'legend-body-' + count;
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'legend-toggle';
    button.textContent = panel.dataset.legendLabel || 'Legend';
    button.setAttribute('aria-controls', body.id);
    function set(open) {
      button.setAttribute('aria-expanded', open ? 'true' : 'false');
      panel.classList.toggle('legend-panel--closed', !open);
    }
    set(!phone.matches);
    button.addEventListener('click', function () {
      set(button.getAttribute('aria-expanded') !== 'true');
    });
    if (window.L && L.DomEvent) {
      L.DomEvent.disableClickPropagation(button);  // a click on it is not a click on the map
    }
    panel.insertBefore(button, panel.firstChild);
  }

  function run() {
    document.querySelectorAll('[data-legend-panel], .pr-legend').forEach(enhance);
  }
  run();
  document.addEventListener('DOMContentLoaded', run);
  window.addEventListener('load', run);
})();
