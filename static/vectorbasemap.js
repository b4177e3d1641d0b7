/* The app's vector tile basemap: Leaflet.VectorGrid (static/vendor/leaflet-vectorgrid)
 * drawing the app's /tiles/{z}/{x}/{y}.pbf with the styling mapper/maps/vectorstyle.py
 * translated from a Mapbox GL / MapLibre style. This file only evaluates that styling
 * (filters, zoom ranges, values by zoom); what a style means is decided in Python.
 *
 * mapperVectorBasemap(map, options) adds the layer to `map` and returns it; options:
 * url, style ({layers, order, background}), attribution, minZoom, maxZoom, minNativeZoom,
 * maxNativeZoom, bounds ([[south, west], [north, east]]).
 */
(function () {
  "use strict";

  function byZoom(value, zoom) {
    if (value === null || typeof value !== "object" || !value.stops) return value;
    var stops = value.stops;
    if (zoom <= stops[0][0]) return stops[0][1];
    for (var i = 1; i < stops.length; i++) {
      if (zoom < stops[i][0]) {
        var low = stops[i - 1], high = stops[i];
        if (value.step) return low[1];
        var span = high[0] - low[0], gone = zoom - low[0], base = value.base || 1;
        var t = base === 1 ? gone / span
          : (Math.pow(base, gone) - 1) / (Math.pow(base, span) - 1);
        return low[1] + (high[1] - low[1]) * t;
      }
    }
    return stops[stops.length - 1][1];
  }

  function matches(filter, props) {
    if (!filter) return true;
    var op = filter[0], value = props[filter[1]];
    switch (op) {
      case "all": return filter.slice(1).every(function (f) { return matches(f, props); });
      case "any": return filter.slice(1).some(function (f) { return matches(f, props); });
      case "none": return !filter.slice(1).some(function (f) { return matches(f, props); });
      case "==": return value === filter[2];
      case "!=": return value !== filter[2];
      case "<": return value !== undefined && value < filter[2];
      case "<=": return value !== undefined && value <= filter[2];
      case ">": return value !== undefined && value > filter[2];
      case ">=": return value !== undefined && value >= filter[2];
      case "in": return filter[2].indexOf(value) >= 0;
      case "!in": return filter[2].indexOf(value) < 0;
      case "has": return value !== undefined;
      case "!has": return value === undefined;
    }
    return false;
  }

  function styler(rules) {
    return function (props, zoom) {
      var out = [];
      for (var i = 0; i < rules.length; i++) {
        var rule = rules[i];
        if (rule.types.indexOf(props.$type) < 0) continue;
        if (rule.minzoom !== null && zoom < rule.minzoom) continue;
        if (rule.maxzoom !== null && zoom >= rule.maxzoom) continue;
        if (!matches(rule.filter, props)) continue;
        var options = {interactive: false};
        for (var key in rule.paint) options[key] = byZoom(rule.paint[key], zoom);
        out.push(options);
      }
      return out;
    };
  }

  // VectorGrid draws a tile's source layers in the tile's order and a layer without a
  // style in Leaflet's default blue: keep the styled layers only, in the style's order,
  // and give each feature its geometry type ($type: 1 point, 2 line, 3 polygon).
  var Grid = L.VectorGrid.Protobuf.extend({
    _getVectorTilePromise: function (coords) {
      var order = this.options.layerOrder;
      return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, coords)
        .then(function (tile) {
          var kept = {};
          order.forEach(function (name) {
            var layer = tile.layers[name];
            if (!layer) return;
            layer.features.forEach(function (f) { f.properties.$type = f.type; });
            kept[name] = layer;
          });
          tile.layers = kept;
          return tile;
        });
    }
  });

  window.mapperVectorBasemap = function (map, options) {
    var styles = {}, order = options.style.order;  // the draw order (keys may be sorted)
    order.forEach(function (name) { styles[name] = styler(options.style.layers[name]); });
    if (options.style.background) {
      map.getContainer().style.background = options.style.background;
    }
    var layerOptions = {
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: styles,
      layerOrder: order,
      interactive: false,
      attribution: options.attribution,
      minZoom: options.minZoom,
      maxZoom: options.maxZoom,
      minNativeZoom: options.minNativeZoom,
      maxNativeZoom: options.maxNativeZoom
    };
    if (options.bounds) layerOptions.bounds = L.latLngBounds(options.bounds);
    return new Grid(options.url, layerOptions).addTo(map);
  };
}());
