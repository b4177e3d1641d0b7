/* Map state in the address, and the place search box: loaded by every map page.
 *
 * The view a person sees lives in the URL's query string so it can be shared or
 * bookmarked: `map=ZOOM/LAT/LON` (zoom, perhaps fractional, and centre), `layers=a,b` (the overlays switched
 * on, by slug of their name in the layer box), beside the parameters the server already
 * reads (indicator, scheme, classes, borough, incident filters...), which stay the source
 * of truth for what the server draws. Opening such a URL restores the view; moving the
 * map or switching a layer updates it with history.replaceState (no reload), and GET
 * forms of the page (and its links marked data-mapstate-carry) carry `map` and `layers`
 * along, so changing the indicator or sorting a table keeps the zoom and centre.
 *
 * Other scripts join through `window.MapState`:
 *   MapState.get(name), MapState.set(name, value)   read / write one query parameter
 *   MapState.map                                     the page's Leaflet map (or null): a
 *                                                    folium map, else the element marked
 *                                                    data-mapstate-map's `leafletMap`
 *   MapState.onRestore(fn)                           run fn(params) once the view is restored
 *
 * The search box (above the map) asks /api/search for wards, boroughs, CANs and postcodes
 * and flies the map there. Vanilla JavaScript; the only library is the page's Leaflet.
 * Everything here is an enhancement: without it the pages work from their own links. */
(function () {
  "use strict";

  var DECIMALS = 5;          /* about 1 m: enough for a centre, short in a URL */
  var DEBOUNCE_MS = 250;
  var restoreHooks = [];
  var restored = false;

  /* -- the query string ---------------------------------------------------------------- */

  function params() { return new URLSearchParams(window.location.search); }

  function get(name) { return params().get(name); }

  function set(name, value) {
    var url = new URL(window.location.href);
    if (value === null || value === undefined || value === "") {
      url.searchParams.delete(name);
    } else {
      url.searchParams.set(name, String(value));
    }
    var next = url.pathname + url.search + url.hash;
    if (next !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", next);
    }
    carryIntoForms();
  }

  /* GET forms that reload this page take the view with them (hidden inputs). */
  var CARRIED = ["map", "layers"];

  function carryIntoForms() {
    var here = window.location.pathname;
    var current = params();
    /* links marked data-mapstate-carry (the priority ward table's sort links) reload this
       page too: they take the view along */
    document.querySelectorAll("a[data-mapstate-carry]").forEach(function (link) {
      var url = new URL(link.getAttribute("href"), window.location.href);
      if (url.pathname !== here) { return; }
      CARRIED.forEach(function (name) {
        var value = current.get(name);
        if (value) { url.searchParams.set(name, value); } else { url.searchParams.delete(name); }
      });
      link.setAttribute("href", url.pathname + url.search + url.hash);
    });
    document.querySelectorAll("form").forEach(function (form) {
      if ((form.getAttribute("method") || "get").toLowerCase() !== "get") { return; }
      if (form.hasAttribute("data-mapstate-skip")) { return; }
      var action = new URL(form.getAttribute("action") || here, window.location.href);
      if (action.pathname !== here) { return; }
      CARRIED.forEach(function (name) {
        var input = form.querySelector("input[type=hidden][name='" + name + "']");
        var value = current.get(name);
        if (!value) {
          if (input && input.hasAttribute("data-mapstate")) { input.remove(); }
          return;
        }
        if (!input) {
          input = document.createElement("input");
          input.type = "hidden";
          input.name = name;
          input.setAttribute("data-mapstate", "");
          form.appendChild(input);
        }
        input.value = value;
      });
    });
  }

  /* A field marked data-mapstate-resets (the area chooser) starts a new view: when its
   * value has changed, the form leaves the old zoom and centre behind. */
  function watchResets() {
    document.querySelectorAll("form").forEach(function (form) {
      var fields = form.querySelectorAll("[data-mapstate-resets]");
      if (!fields.length) { return; }
      fields.forEach(function (field) { field.setAttribute("data-mapstate-was", field.value); });
      form.addEventListener("submit", function () {
        var moved = Array.prototype.some.call(fields, function (field) {
          return field.value !== field.getAttribute("data-mapstate-was");
        });
        if (moved) {
          form.querySelectorAll("input[data-mapstate][name=map]").forEach(function (input) {
            input.remove();
          });
        }
      });
    });
  }

  /* -- the map ------------------------------------------------------------------------- */

  function findMap() {
    if (typeof L === "undefined") { return null; }
    var elements = document.querySelectorAll(".folium-map");
    for (var i = 0; i < elements.length; i++) {
      var candidate = window[elements[i].id];
      if (candidate instanceof L.Map) { return candidate; }
    }
    /* a page's own Leaflet map (the register editor's): the element marked
       data-mapstate-map keeps it as `leafletMap` */
    var own = document.querySelector("[data-mapstate-map]");
    if (own && own.leafletMap instanceof L.Map) { return own.leafletMap; }
    return null;
  }

  /* folium keeps the layer box's overlays in a global `layer_control_…_layers` (the
   * control itself is a `let`, out of reach): {overlays: {name: layer}} */
  function findLayerControl() {
    var names = Object.keys(window);
    for (var i = 0; i < names.length; i++) {
      if (/^layer_control_\w+_layers$/.test(names[i]) && window[names[i]] &&
          window[names[i]].overlays) {
        return window[names[i]];
      }
    }
    return null;
  }

  function slug(name) {
    /* names may hold markup (a swatch); the URL uses their words (an inert document) */
    var text = new DOMParser().parseFromString(String(name), "text/html").body.textContent;
    /* a trailing "(...)" says what a layer counts now ("burglary, Sep 2024 - Feb 2025,
       1,234 incidents"): it changes with the filters, the layer does not */
    return (text || "").replace(/\s*\([^()]*\)\s*$/, "").toLowerCase().trim()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  }

  function overlays(control) {
    if (!control) { return []; }
    return Object.keys(control.overlays).map(function (name) {
      return {name: name, layer: control.overlays[name]};
    });
  }

  function parseView(text) {
    var parts = (text || "").split("/").map(Number);
    if (parts.length !== 3 || parts.some(function (n) { return !isFinite(n); })) { return null; }
    if (Math.abs(parts[1]) > 90 || Math.abs(parts[2]) > 180) { return null; }
    return {zoom: parts[0], lat: parts[1], lon: parts[2]};
  }

  function viewText(map) {
    var centre = map.getCenter().wrap();
    return Math.round(map.getZoom() * 100) / 100 + "/" + centre.lat.toFixed(DECIMALS) + "/" + centre.lng.toFixed(DECIMALS);
  }

  function restore(map, control) {
    var view = parseView(get("map"));
    if (view) {
      map.setView([view.lat, view.lon], view.zoom, {animate: false});
    }
    var wanted = get("layers");
    if (wanted !== null && control) {
      var chosen = wanted.split(",").filter(Boolean);
      overlays(control).forEach(function (entry) {
        var on = chosen.indexOf(slug(entry.name)) !== -1;
        if (on && !map.hasLayer(entry.layer)) {
          map.addLayer(entry.layer);
        } else if (!on && map.hasLayer(entry.layer)) {
          map.removeLayer(entry.layer);
        }
      });
    }
  }

  /* `none` when every overlay is off (an empty value would mean "as the page starts") */
  function shownLayers(map, control) {
    return overlays(control).filter(function (entry) { return map.hasLayer(entry.layer); })
      .map(function (entry) { return slug(entry.name); }).join(",") || "none";
  }

  function track(map, control) {
    map.on("moveend", function () { set("map", viewText(map)); });
    if (control) {
      map.on("overlayadd overlayremove", function () { set("layers", shownLayers(map, control)); });
    }
  }

  /* -- the search box ------------------------------------------------------------------ */

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function searchBox(map) {
    var container = map.getContainer();
    var frame = container.closest(".map-frame, .inc-map-frame, [role=region]") || container;
    var form = element("form", {"class": "place-search", role: "search", "data-mapstate-skip": "",
                                "aria-label": "Find a place on the map"});
    var label = element("label", {"for": "place-search-q", "class": "place-search__label"},
                        "Find a ward, borough, CAN or postcode");
    var row = element("div", {"class": "place-search__row"});
    var input = element("input", {
      id: "place-search-q", type: "search", name: "q", autocomplete: "off", spellcheck: "false",
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
      "aria-controls": "place-search-list", "class": "place-search__input"});
    var button = element("button", {type: "submit", "class": "place-search__button"}, "Find");
    var list = element("ul", {id: "place-search-list", role: "listbox", "class": "place-search__list",
                              "aria-label": "Places found"});
    list.hidden = true;
    var status = element("p", {"class": "place-search__status", role: "status", "aria-live": "polite",
                               id: "place-search-status"});
    row.appendChild(input);
    row.appendChild(button);
    form.appendChild(label);
    form.appendChild(row);
    form.appendChild(list);
    form.appendChild(status);
    frame.parentNode.insertBefore(form, frame);

    var results = [];
    var active = -1;
    var timer = null;
    var asked = "";
    var pending = null;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function show(found) {
      results = found;
      list.textContent = "";
      active = -1;
      found.forEach(function (feature, i) {
        var item = element("li", {id: "place-search-option-" + i, role: "option",
                                  "aria-selected": "false", "class": "place-search__option"},
                           feature.properties.label);
        item.addEventListener("mousedown", function (event) { event.preventDefault(); });
        item.addEventListener("click", function () { pick(i); });
        list.appendChild(item);
      });
      list.hidden = found.length === 0;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
    }

    function highlight(i) {
      var items = list.querySelectorAll("[role=option]");
      items.forEach(function (item, n) { item.setAttribute("aria-selected", n === i ? "true" : "false"); });
      active = i;
      if (i >= 0 && items[i]) {
        input.setAttribute("aria-activedescendant", items[i].id);
        items[i].scrollIntoView({block: "nearest"});
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function ask(q) {
      asked = q;
      var url = new URL(form.getAttribute("data-endpoint") || searchEndpoint(), window.location.href);
      url.searchParams.set("q", q);
      pending = fetch(url.pathname + url.search, {headers: {Accept: "application/json"}})
        .then(function (response) {
          return response.json().then(function (body) { return {ok: response.ok, body: body}; });
        })
        .then(function (answer) {
          if (q !== asked) { return null; }  /* a newer query is on its way */
          if (!answer.ok) {
            status.textContent = answer.body.error || "The search did not work; try again.";
            show([]);
            return [];
          }
          show(answer.body.features || []);
          status.textContent = answer.body.message ||
            (results.length === 1 ? "1 place found." : results.length + " places found.");
          return results;
        })
        .catch(function () {
          status.textContent = "The search did not work (is the server running?); try again.";
          return [];
        });
      return pending;
    }

    function pick(i) {
      var feature = results[i];
      if (!feature) { return; }
      var b = feature.properties.bbox;
      close();
      input.value = feature.properties.name;
      status.textContent = "Showing " + feature.properties.label + " on the map.";
      container.scrollIntoView({block: "nearest"});
      map.flyToBounds([[b[1], b[0]], [b[3], b[2]]], {padding: [16, 16], maxZoom: 16, duration: 0.8});
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { close(); status.textContent = ""; asked = ""; return; }
      timer = window.setTimeout(function () { ask(q); }, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && results.length) {
        event.preventDefault();
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        highlight(Math.min(active + 1, results.length - 1));
      } else if (event.key === "ArrowUp" && results.length) {
        event.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Escape") {
        close();
      }
    });

    input.addEventListener("blur", function () { window.setTimeout(close, 150); });

    /* Enter (or the button) picks the highlighted place, else the first found */
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { status.textContent = "Type a ward, borough or CAN name or code, or a postcode."; return; }
      var choice = active >= 0 ? active : 0;
      if (q === asked && pending) {
        pending.then(function () { pick(choice); });
      } else {
        ask(q).then(function () { pick(0); });
      }
    });
  }

  function searchEndpoint() {
    var script = document.querySelector("script[data-search-url]");
    return script ? script.getAttribute("data-search-url") : "/api/search";
  }

  /* -- start --------------------------------------------------------------------------- */

  var api = {
    get: get,
    set: set,
    map: null,
    onRestore: function (fn) {
      if (restored) { fn(params()); } else { restoreHooks.push(fn); }
    }
  };
  window.MapState = api;

  function init() {
    var map = findMap();
    api.map = map;
    carryIntoForms();
    watchResets();
    if (!map) { return; }
    var control = findLayerControl();
    restore(map, control);
    track(map, control);
    if (!map.getContainer().hasAttribute("data-mapstate-nosearch")) { searchBox(map); }
    restored = true;
    restoreHooks.forEach(function (fn) { fn(params()); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
