/* Context layers (roads, water, rail, buildings, place names) under a map's data.
 *
 * MapperContext.layer(map, options) returns a layer group for the layer control. While it
 * is on, each time the map stops moving it asks the app for each kind the view's zoom
 * reaches (options.kinds: {kind, min_zoom}) at options.url ("{kind}" replaced) with the
 * view's bbox (lon/lat, padded) and zoom, and draws the answer on one canvas in the
 * "context" pane, under the data's panes, with options.styles (mapper/context_kinds.py,
 * the one style table). Place names are text in the "contextLabels" pane. Nothing here
 * catches the pointer. A view inside the last one answered at the same zoom asks nothing.
 * A map with no layer box of its own gets one holding just this layer.
 */
(function () {
  "use strict";

  function styleOf(styles, kind, cls, extra) {
    var table = styles[kind] || {};
    return Object.assign({}, table["*"] || {}, table[cls] || {}, extra || {});
  }

  function layer(map, options) {
    if (!map.getPane("context")) {
      var pane = map.createPane("context");
      pane.style.zIndex = 250;  // above tiles (200), under overlays (400)
      pane.style.pointerEvents = "none";
      var labels = map.createPane("contextLabels");
      labels.style.zIndex = 380;  // under the data's shapes (400) and area labels (450)
      labels.style.pointerEvents = "none";
      labels.setAttribute("aria-hidden", "true");
    }
    var renderer = L.canvas({pane: "context", padding: 0.2});
    var group = L.layerGroup([], {attribution: options.attribution});
    var kinds = {};

    options.kinds.forEach(function (entry) {
      var kind = entry.kind;
      var drawn = L.geoJSON(null, {
        pane: "context",
        renderer: renderer,
        interactive: false,
        style: function (feature) {
          var geometry = feature.geometry && feature.geometry.type || "";
          var extra = geometry.indexOf("Polygon") >= 0 ? null : options.lineStyle;
          return styleOf(options.styles, kind, feature.properties["class"], extra);
        },
        pointToLayer: function (feature, at) {
          var look = styleOf(options.styles, kind, feature.properties["class"]);
          var text = document.createElement("span");
          text.className = "context-label context-label--" + feature.properties["class"];
          text.textContent = feature.properties.name || "";  // text, never markup
          text.style.color = look.color || "#555";
          text.style.fontSize = (look.size || 11) + "px";
          return L.marker(at, {
            pane: "contextLabels", interactive: false, keyboard: false,
            icon: L.divIcon({className: "context-label-anchor", html: text, iconSize: null})
          });
        }
      });
      group.addLayer(drawn);
      kinds[kind] = {minZoom: entry.min_zoom, layer: drawn, seq: 0, zoom: null,
                     bounds: null};
    });

    function fetchKind(kind, state, zoom, view) {
      var wide = view.pad(0.25);
      var bbox = [wide.getWest(), wide.getSouth(), wide.getEast(), wide.getNorth()]
        .map(function (v) { return v.toFixed(5); }).join(",");
      var url = options.url.replace("{kind}", encodeURIComponent(kind))
        + "?bbox=" + bbox + "&zoom=" + zoom + "&v=" + encodeURIComponent(options.version);
      var token = ++state.seq;
      fetch(url, {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (token !== state.seq || !data) { return; }
          state.layer.clearLayers();
          state.layer.addData(data);
          state.zoom = zoom;
          state.bounds = wide;
        })
        .catch(function () { /* the map works without its context */ });
    }

    function load() {
      if (!map.hasLayer(group)) { return; }
      var zoom = Math.round(map.getZoom());
      var view = map.getBounds();
      Object.keys(kinds).forEach(function (kind) {
        var state = kinds[kind];
        if (zoom < state.minZoom) {
          state.seq++;
          state.layer.clearLayers();
          state.zoom = null;
          return;
        }
        if (state.zoom === zoom && state.bounds && state.bounds.contains(view)) { return; }
        fetchKind(kind, state, zoom, view);
      });
    }

    map.on("moveend", load);
    // Leaflet's attribution box takes a layer's credit off when it goes only if it saw
    // the layer come; a map whose box is added after its layers (AttributionLast) did not
    var seenByBox = false;
    group.on("add", function () {
      seenByBox = !!map.attributionControl;
      map.whenReady(load);
    });
    group.on("remove", function () {
      if (!seenByBox && map.attributionControl && options.attribution) {
        map.attributionControl.removeAttribution(options.attribution);
      }
    });
    // a map without a layer box (the page's script has run by then) gets one of its own,
    // so the context can still be switched off
    window.setTimeout(function () {
      if (!map.getContainer().querySelector(".leaflet-control-layers")) {
        var named = {};
        named[options.name || "Streets and places"] = group;
        L.control.layers(null, named, {collapsed: true, position: "topright"}).addTo(map);
      }
    }, 0);
    return group;
  }

  window.MapperContext = {layer: layer};
})();
