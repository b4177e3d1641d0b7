/* Maps on paper (issue 18): when the page switches to print media the map boxes change
   size (neighbourhood.css gives the map a fixed height on page 1), so every Leaflet map
   on the page is told its new size (invalidateSize) and shows what the screen showed
   (fitBounds to the screen view); after printing the screen view comes back. Listens to
   the print media query, which fires once print styles apply (beforeprint fires while
   the screen layout still holds, too early to measure the paper's map). */
(function () {
  'use strict';
  if (!window.L || !window.matchMedia) return;
  var saved = null;

  function leafletMaps() {
    var found = [];
    Object.keys(window).forEach(function (name) {
      try {
        if (window[name] instanceof L.Map) found.push(window[name]);
      } catch (error) { /* a property that cannot be read is not a map */ }
    });
    return found;
  }

  function toPaper() {
    if (saved) return;
    saved = leafletMaps().map(function (map) {
      return {map: map, bounds: map.getBounds(), centre: map.getCenter(), zoom: map.getZoom()};
    });
    saved.forEach(function (view) {
      view.map.invalidateSize({animate: false, pan: false});
      view.map.fitBounds(view.bounds, {animate: false});
    });
  }

  function toScreen() {
    if (!saved) return;
    var views = saved;
    saved = null;
    views.forEach(function (view) {
      view.map.invalidateSize({animate: false, pan: false});
      view.map.setView(view.centre, view.zoom, {animate: false});
    });
  }

  var print = window.matchMedia('print');
  var onChange = function (event) { if (event.matches) toPaper(); else toScreen(); };
  if (print.addEventListener) print.addEventListener('change', onChange);
  else print.addListener(onChange);
  window.addEventListener('afterprint', toScreen);
})();
