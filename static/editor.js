/* The register pages (mapper/web/editor.py).
 *
 * Every page: move keyboard focus to the message that needs reading first (the error
 * summary, the conflict, or the "saved" banner), as GOV.UK pages do.
 *
 * The form: a small Leaflet map (the app's own copy, /vendor/leaflet) showing the ward
 * outlines (from /api/wards) and the record's point. A click on the map, or dragging the
 * marker, places the point: it writes the latitude and longitude fields, which the server
 * reads on save. Typing in those fields moves the marker. Nothing here sends anything.
 */
(function () {
  "use strict";

  var focusFirst = document.querySelector("[data-ed-autofocus]");
  if (focusFirst) {
    focusFirst.focus();
  }

  // error summary links: focus the field itself and show its label (or legend) too
  document.querySelectorAll(".ed-error-summary a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) {
        return;
      }
      event.preventDefault();
      var details = target.closest("details");
      if (details) {
        details.open = true;
      }
      var group = target.closest(".ed-field, fieldset");
      (group || target).scrollIntoView();
      target.focus({ preventScroll: true });
    });
  });

  var element = document.getElementById("editor-map");
  if (!element || typeof L === "undefined") {
    return;
  }
  var latInput = document.getElementById("lat");
  var lonInput = document.getElementById("lon");
  var status = document.getElementById("location-status");
  var data = element.dataset;

  var map = L.map(element, { scrollWheelZoom: false, zoomSnap: 0.5 });
  element.leafletMap = map;  // for tests and the browser console; not a global
  if (data.tilesVector && window.mapperVectorBasemap) {  // a vector tile archive
    window.mapperVectorBasemap(map, JSON.parse(data.tilesVector));
  } else if (data.tiles) {
    var tileOptions = {
      attribution: data.tilesAttribution || "",
      maxZoom: Number(data.tilesMaxZoom) || 19,
      subdomains: data.tilesSubdomains || "abc"
    };
    if (data.tilesBounds) {  // the app's own tile archive: its zooms and extent only
      var b = data.tilesBounds.split(",").map(Number);
      tileOptions.bounds = [[b[0], b[1]], [b[2], b[3]]];
      tileOptions.minNativeZoom = Number(data.tilesMinNativeZoom);
      tileOptions.maxNativeZoom = Number(data.tilesMaxNativeZoom);
    }
    L.tileLayer(data.tiles, tileOptions).addTo(map);
  }
  if (data.context && window.MapperContext) {  // imported streets and places (context.js)
    window.MapperContext.layer(map, JSON.parse(data.context)).addTo(map);
  }

  var marker = null;

  function typed(input) {
    if (!input || input.value.trim() === "") {
      return null;
    }
    var value = Number(input.value.trim());
    return isFinite(value) ? value : null;
  }

  function show(latlng) {
    if (marker) {
      marker.setLatLng(latlng);
      return;
    }
    marker = L.marker(latlng, { draggable: true, title: "The point", alt: "The point" });
    marker.addTo(map);
    marker.on("dragend", function () {
      place(marker.getLatLng());
    });
  }

  function place(latlng) {
    show(latlng);
    latInput.value = latlng.lat.toFixed(6);
    lonInput.value = latlng.lng.toFixed(6);
    status.textContent = "New point: " + latInput.value + ", " + lonInput.value +
      ". Save to keep it.";
    element.dataset.placed = "true";
  }

  var start = null;
  var lat = typed(latInput);
  var lon = typed(lonInput);
  if (lat !== null && lon !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
    start = L.latLng(lat, lon);
  } else if (data.lat && data.lon) {
    start = L.latLng(Number(data.lat), Number(data.lon));
  }
  if (start) {
    show(start);
    map.setView(start, 15);
  } else if (data.startLat && data.startLon) {
    // the study area's example postcode, until the wards arrive
    map.setView([Number(data.startLat), Number(data.startLon)], 11);
  } else {
    map.setView([54.0, -2.0], 6);  // Great Britain, until the wards arrive
  }

  map.on("click", function (event) {
    place(event.latlng);
  });

  [latInput, lonInput].forEach(function (input) {
    input.addEventListener("change", function () {
      var a = typed(latInput);
      var b = typed(lonInput);
      if (a !== null && b !== null && Math.abs(a) <= 90 && Math.abs(b) <= 180) {
        show(L.latLng(a, b));
        map.panTo([a, b]);
      }
    });
  });

  // every page of the wards (a long list names its next page in `next`)
  function wardPages(url, features) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json, application/json" }
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (page) {
        features = features.concat(page.features || []);
        return page.next ? wardPages(page.next, features)
          : { type: "FeatureCollection", features: features };
      });
  }

  wardPages(data.wardsUrl, [])
    .then(function (collection) {
      var wards = L.geoJSON(collection, {
        style: { color: "#1d70b8", weight: 1.5, fillColor: "#5694ca", fillOpacity: 0.08 },
        onEachFeature: function (feature, layer) {
          var label = document.createElement("span");  // text, never HTML
          label.textContent = (feature.properties && feature.properties.ward_name) || "";
          layer.bindTooltip(label, { sticky: true, className: "ed-ward-label" });
        }
      }).addTo(map);
      // a view in the address (mapstate.js's `map=`: a shared or reloaded link) stays
      if (!start && wards.getLayers().length &&
          !new URLSearchParams(window.location.search).has("map")) {
        map.fitBounds(wards.getBounds());
      }
      element.dataset.wardsLoaded = String(wards.getLayers().length);
    })
    .catch(function () {
      var note = document.createElement("span");
      note.textContent = " (The ward outlines could not be loaded; you can still click the map.)";
      status.appendChild(note);
    });
})();
