/* Map layers that work together (issue 18), loaded before a map's own script by the
   priority, overview and neighbourhood pages. Vanilla JavaScript over the page's Leaflet.

   window.MapLayers.pointSwitch(map, holder, cluster, options)
     `holder` is the layer in the layer control. Below options.closeZoom it holds one
     circle per ward (area by count, numbered when the circle has room, tooltip
     "Whitechapel: 12 groups", drawn on the map's canvas, so a city's wards are not
     hundreds of page elements; smaller below zoom 12 and 11, where a whole city shows);
     from options.closeZoom in it holds `cluster` (the
     clustered markers). Switched on every zoomend. map.pointSwitches[kind].mode says
     which ("counts" or "markers"); the map fires "pointmode" with {kind, mode}, and every
     element [data-point-mode=kind] (the legend's entry) says it in words.
     options: kind, counts ([[lat, lon, ward name, count], ...]) or countsUrl (where to
     fetch {"rows": counts} from, the first time the counts show: a national map does not
     embed 7,000 wards' counts), nouns ([one, many]), closeZoom, countClass (CSS class of
     a number).

   The hatch: an SVG pattern (#map-hatch) defined once in the page, so an SVG path with
   fill "url(#map-hatch)" (the coverage gaps) is hatched: the ward colour underneath shows
   between the lines and no fill mixes with the classes; the legend's swatch uses it too. */
(function () {
  'use strict';
  if (!window.L) { return; }
  var SVG = 'http://www.w3.org/2000/svg';

  function hatch() {
    if (document.getElementById('map-hatch')) { return; }
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', '0');
    svg.setAttribute('height', '0');
    svg.setAttribute('aria-hidden', 'true');
    svg.style.position = 'absolute';
    var pattern = document.createElementNS(SVG, 'pattern');
    pattern.id = 'map-hatch';
    pattern.setAttribute('patternUnits', 'userSpaceOnUse');
    pattern.setAttribute('width', '7');
    pattern.setAttribute('height', '7');
    pattern.setAttribute('patternTransform', 'rotate(45)');
    var line = document.createElementNS(SVG, 'line');
    line.setAttribute('x1', '0');
    line.setAttribute('y1', '0');
    line.setAttribute('x2', '0');
    line.setAttribute('y2', '7');
    line.setAttribute('stroke', '#942514');
    line.setAttribute('stroke-width', '2');
    pattern.appendChild(line);
    var defs = document.createElementNS(SVG, 'defs');
    defs.appendChild(pattern);
    svg.appendChild(defs);
    (document.body || document.documentElement).appendChild(svg);
  }

  var COLOURS = {groups: '#912b88', premises: '#f47738', incidents: '#0b0c0c'};
  // the three registers' circles sit side by side round the ward's label point
  var SHIFT = {groups: [-9, -5], premises: [9, -5], incidents: [0, 8]};
  var MIN_R = 4, MAX_R = 18, LABEL_R = 10;

  // a circle drawn a few pixels off its point (Leaflet 1.9's CircleMarker._project)
  var Shifted = L.CircleMarker.extend({
    _project: function () {
      this._point = this._map.latLngToLayerPoint(this._latlng).add(this.options.shift);
      this._updateBounds();
    }
  });

  // zoomed far out (a whole city) the circles are smaller, so three registers in 600
  // wards do not cover the map: a scale per zoom band
  function band(zoom) { return zoom < 11 ? 0.6 : zoom < 12 ? 0.8 : 1; }

  // the rows of the counts: embedded, or fetched once (a promise) from options.countsUrl
  function countRows(options) {
    if (!options.countsUrl) { return null; }
    if (!options.fetched) {
      options.fetched = fetch(options.countsUrl, {headers: {'Accept': 'application/json'}})
        .then(function (r) {
          if (!r.ok) { throw new Error('HTTP ' + r.status); }
          return r.json();
        })
        .then(function (data) { return data.rows; });
      options.fetched.catch(function (err) {
        options.fetched = null;  // the next time tries again
        console.warn('could not load the counts of ' + options.kind + ': ' + err.message);
      });
    }
    return options.fetched;
  }

  function countLayer(map, options, scale) {
    var group = L.featureGroup();
    var later = countRows(options);
    if (later) {
      later.then(function (rows) { fillCounts(group, rows, options, scale); },
                 function () {});
    } else {
      fillCounts(group, options.counts || [], options, scale);
    }
    return group;
  }

  function fillCounts(group, rows, options, scale) {
    var most = rows.reduce(function (m, r) { return Math.max(m, r[3]); }, 1);
    var shift = L.point(SHIFT[options.kind] || [0, 0]).multiplyBy(scale);
    rows.forEach(function (row) {
      var n = row[3];
      var radius = (MIN_R + (MAX_R - MIN_R) * Math.sqrt(n / most)) * scale;
      var circle = new Shifted([row[0], row[1]], {
        radius: radius, shift: shift, color: '#fff', weight: 1.5, opacity: 1,
        fillColor: COLOURS[options.kind] || '#0b0c0c', fillOpacity: 0.85
      });
      circle.bindTooltip(function () {
        var box = document.createElement('div');
        box.textContent = (row[2] || 'Ward') + ': ' + n.toLocaleString('en-GB') + ' '
          + (n === 1 ? options.nouns[0] : options.nouns[1]);
        return box;
      }, {sticky: true});
      circle.count = n;
      group.addLayer(circle);
      if (radius >= LABEL_R) {
        var text = document.createElement('span');
        text.textContent = n < 1000 ? String(n) : Math.round(n / 1000) + 'k';
        var label = L.marker([row[0], row[1]], {
          interactive: false, keyboard: false,
          icon: L.divIcon({className: options.countClass + ' ' + options.countClass + '--'
                             + options.kind,
                           html: text, iconSize: [2 * radius, 2 * radius],
                           iconAnchor: [radius - shift.x, radius - shift.y]})
        });
        group.addLayer(label);
      }
    });
    group.fire('countsloaded');
  }

  function say(kind, mode) {
    document.querySelectorAll('[data-point-mode="' + kind + '"]').forEach(function (el) {
      el.textContent = mode === 'counts' ? el.getAttribute('data-counts-text')
        : el.getAttribute('data-markers-text');
    });
  }

  function pointSwitch(map, holder, cluster, options) {
    var made = {};  // the counts layer of each zoom band, made when first shown
    var counts = null;  // the one on the map
    var state = {mode: null, holder: holder, cluster: cluster, closeZoom: options.closeZoom,
                 counts: function () { return counts; }};
    map.pointSwitches = map.pointSwitches || {};
    map.pointSwitches[options.kind] = state;
    function sync() {
      var mode = map.getZoom() < options.closeZoom ? 'counts' : 'markers';
      var scale = band(map.getZoom());
      if (mode === 'counts' && state.mode === 'counts' && counts !== made[scale]) {
        holder.removeLayer(counts);  // another zoom band: its own circles
        counts = made[scale] = made[scale] || countLayer(map, options, scale);
        holder.addLayer(counts);
      }
      if (mode === state.mode) { return; }
      state.mode = mode;
      if (mode === 'counts') {
        if (counts) { holder.removeLayer(counts); }
        counts = made[scale] = made[scale] || countLayer(map, options, scale);
        holder.removeLayer(cluster);
        holder.addLayer(counts);
      } else {
        if (counts) { holder.removeLayer(counts); }
        holder.addLayer(cluster);
      }
      say(options.kind, mode);
      map.fire('pointmode', {kind: options.kind, mode: mode});
    }
    holder.on('add', function () { state.mode = null; sync(); });
    map.on('zoomend', function () { if (map.hasLayer(holder)) { sync(); } });
    // say what would show before the layer is first switched on
    var first = map.getZoom() < options.closeZoom ? 'counts' : 'markers';
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', function () { say(options.kind, first); });
    } else {
      say(options.kind, first);
    }
    map.on('zoomend', function () {
      if (!map.hasLayer(holder)) {
        say(options.kind, map.getZoom() < options.closeZoom ? 'counts' : 'markers');
      }
    });
  }

  hatch();
  window.MapLayers = {pointSwitch: pointSwitch, hatch: hatch};
})();
