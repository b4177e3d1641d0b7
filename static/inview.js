/* A ward layer loaded for the view (mapper/maps/inview.py): the page embeds no ward
 * shapes; as the map moves, this asks the server for the wards of the tiles covering the
 * view at the zoom band's tile zoom (each ward simplified for the band, with its
 * properties and style number: the classes are the server's, over every ward), and adds
 * each ward once to the layer, which the map draws on its canvas (no element per ward).
 *
 *   mapperInViewLayer(map, layer, {url: ".../{z}/{x}/{y}.json?...", bands: [[minZoom, tileZoom], ...]})
 *
 * The same draws the outline layers over the wards (borough and CAN outlines, each
 * band's simplified for it): options.key names the property a feature is known by
 * ("ward_code" by default), options.attr the container's attributes ("wards" by
 * default: data-wards-pending...), and options.addData(collection) / options.clear()
 * draw and remove features where the layer is not one GeoJSON layer (the CANs' outline,
 * halo and label).
 *
 * Answers are HTTP-cacheable (the URL names the workspace version), so panning back over
 * a tile re-uses it. Moving to another band empties the layer at once and starts it
 * again with that band's shapes; holding more than MAX_TILES tiles starts it again too
 * (the memory stays bounded). A pan that stays within what the canvas has drawn
 * redraws nothing (lazyPans). While
 * tiles are on their way the map's container has data-wards-pending="N"; once none are,
 * data-wards-loaded holds the number of wards drawn and the layer fires "inviewload"
 * (for an outline layer data-boroughs-pending... after its options.attr).
 * Vanilla JavaScript; the only library is the page's Leaflet. */
(function () {
  "use strict";

  var MAX_TILES = 48;
  /* features are added to the layer in tasks of about this many ms (at least CHUNK
   * features each): all England's 7,000 wards at once would hold the page for a second */
  var BUDGET_MS = 25;
  var CHUNK = 25;
  /* the canvas is drawn this far beyond the view (a share of its size, each side); a pan
   * that keeps the view inside what is drawn redraws nothing (see lazyPans) */
  var DRAWN_PAD = 0.5;
  var PAD = 0.25;  /* tiles this far beyond the view are fetched too: a short pan is ready */

  function tileX(lon, z) {
    return Math.floor((lon + 180) / 360 * Math.pow(2, z));
  }

  function tileY(lat, z) {
    var rad = Math.max(Math.min(lat, 85.05), -85.05) * Math.PI / 180;
    return Math.floor((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2
                      * Math.pow(2, z));
  }

  /* A pan need not redraw the canvas while what it has drawn still covers the view:
   * Leaflet's canvas renderer clips and redraws every path after each move (all of
   * England's wards and outlines, zoomed out: most of a second on a busy machine). The
   * map's canvas is drawn DRAWN_PAD beyond the view instead of 0.1, and a move that
   * leaves the view inside it (same zoom, origin and size) skips the update; the canvas
   * moves with the map pane as it always does. Past the margin, or on a zoom, it
   * redraws as before. */
  function lazyPans(map, layer) {
    var renderer = map.getRenderer(layer);
    if (!(renderer instanceof L.Canvas) || renderer.mapperLazyPans) { return; }
    renderer.mapperLazyPans = true;
    /* the map calls the handlers the renderer gave when added: give them again */
    map.off(renderer.getEvents(), renderer);
    var update = renderer._update;
    var drawn = null;   /* [zoom, pixel origin, size] of the last drawing */
    renderer._update = function () {
      var m = this._map;
      if (drawn && this._bounds && !m._animatingZoom && drawn[0] === m.getZoom()
          && drawn[1].equals(m.getPixelOrigin()) && drawn[2].equals(m.getSize())) {
        var view = L.bounds(m.containerPointToLayerPoint([0, 0]),
                            m.containerPointToLayerPoint(m.getSize()));
        if (this._bounds.contains(view)) { return; }
      }
      update.apply(this, arguments);
      drawn = [m.getZoom(), m.getPixelOrigin(), m.getSize()];
    };
    map.on(renderer.getEvents(), renderer);
    renderer.options.padding = Math.max(renderer.options.padding, DRAWN_PAD);
    renderer._update();  /* drawn again with the wider margin (before any ward is in) */
  }

  window.mapperInViewLayer = function (map, layer, options) {
    var bands = options.bands;
    var band = null;
    var generation = 0;
    var fetched = {};      /* "z/x/y" -> true, this band */
    var tileCount = 0;
    var seen = {};         /* ward code -> true: drawn (or on its way) */
    var drawn = 0;
    var pending = 0;
    var stale = false;     /* the layer holds another band's shapes until the first answer */
    var box = map.getContainer();
    var key = options.key || "ward_code";
    var attr = options.attr || "wards";
    var addData = options.addData || function (data) { layer.addData(data); };
    var clear = options.clear || function () { layer.clearLayers(); };

    function bandOf(zoom) {
      var chosen = 0;
      bands.forEach(function (b, i) { if (zoom >= b[0]) { chosen = i; } });
      return chosen;
    }

    function show() {
      box.setAttribute("data-" + attr + "-pending", String(pending));
      if (!pending) {
        box.setAttribute("data-" + attr + "-loaded", String(drawn));
        layer.fire("inviewload");
      }
    }

    function reset() {
      generation += 1;
      fetched = {};
      tileCount = 0;
      seen = {};
      drawn = 0;
      stale = true;
    }

    /* resolves once the new features of `data` are on the layer, CHUNK per task */
    function add(data, gen) {
      if (gen !== generation) { return Promise.resolve(); }
      if (stale) {
        clear();
        stale = false;
      }
      var fresh = data.features.filter(function (feature) {
        var code = feature.properties[key];
        if (seen[code]) { return false; }
        seen[code] = true;
        return true;
      });
      return new Promise(function (done) {
        function step(start) {
          if (gen !== generation || start >= fresh.length) { done(); return; }
          var began = window.performance.now();
          var end = start;
          while (end < fresh.length
                 && (end - start < CHUNK || window.performance.now() - began < BUDGET_MS)) {
            var part = fresh.slice(end, end + CHUNK);
            addData({type: "FeatureCollection", features: part});
            drawn += part.length;
            end += part.length;
          }
          window.setTimeout(function () { step(end); }, 0);
        }
        step(0);
      });
    }

    function load(z, x, y) {
      var gen = generation;
      var url = options.url.replace("{z}", z).replace("{x}", x).replace("{y}", y);
      pending += 1;
      show();
      fetch(url, {headers: {"Accept": "application/geo+json"}})
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (data) { return add(data, gen); })
        .catch(function (err) {
          if (gen === generation) { delete fetched[z + "/" + x + "/" + y]; }
          console.warn("could not load the " + attr + " of tile " + z + "/" + x + "/" + y + ": "
                       + err.message);
        })
        .then(function () {
          pending -= 1;
          show();
        });
    }

    function update() {
      if (!map.hasLayer(layer)) { return; }
      var b = bandOf(map.getZoom());
      if (b !== band || tileCount > MAX_TILES) {
        band = b;
        reset();
      }
      var z = bands[b][1];
      var view = map.getBounds().pad(PAD);
      var n = Math.pow(2, z);
      var x0 = Math.max(tileX(view.getWest(), z), 0);
      var x1 = Math.min(tileX(view.getEast(), z), n - 1);
      var y0 = Math.max(tileY(view.getNorth(), z), 0);
      var y1 = Math.min(tileY(view.getSouth(), z), n - 1);
      var wanted = [];
      for (var x = x0; x <= x1; x += 1) {
        for (var y = y0; y <= y1; y += 1) {
          if (!fetched[z + "/" + x + "/" + y]) { wanted.push([x, y]); }
        }
      }
      /* nearest the centre first */
      var cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      wanted.sort(function (a, c) {
        return (Math.abs(a[0] - cx) + Math.abs(a[1] - cy))
          - (Math.abs(c[0] - cx) + Math.abs(c[1] - cy));
      });
      wanted.forEach(function (t) {
        fetched[z + "/" + t[0] + "/" + t[1]] = true;
        tileCount += 1;
        load(z, t[0], t[1]);
      });
      if (!pending) { show(); }
    }

    /* zoomed into another band: the old band's features go at once, before Leaflet
     * projects every path for the new zoom (all England's wards, zoomed out: a long
     * task); the new band's come with its tiles */
    map.on("zoom", function () {
      var b = bandOf(map.getZoom());
      if (band === null || b === band || !map.hasLayer(layer)) { return; }
      band = b;
      reset();
      clear();
      stale = false;
    });
    map.on("moveend", update);
    layer.on("add", update);
    map.whenReady(function () {
      lazyPans(map, layer);
      update();
    });
  };
})();
