/* Incident page: move the search point by clicking the map, or to the map's centre with a
 * button; a numbered marker takes you to its entry in the list. The page works without
 * this file: every search is a plain link or form submission handled by the server.
 * Vanilla JavaScript; the only library is the Leaflet already on the page. */
(function () {
  "use strict";

  /* about 1 m of latitude: enough for a search point, short enough to read in a URL */
  var DECIMALS = 5;
  /* the query fields that say where (and the map view, mapstate.js's `map`: a new search
   * point centres the map); everything else (k, category, offer, radius) is kept */
  var WHERE = ["postcode", "lat", "lon", "map"];

  function searchUrl(latlng) {
    var point = latlng.wrap();
    var current = new URLSearchParams(window.location.search);
    var next = new URLSearchParams();
    next.set("lat", point.lat.toFixed(DECIMALS));
    next.set("lon", point.lng.toFixed(DECIMALS));
    current.forEach(function (value, key) {
      if (WHERE.indexOf(key) === -1 && value !== "") {
        next.append(key, value);
      }
    });
    return window.location.pathname + "?" + next.toString();
  }

  function say(text) {
    var status = document.getElementById("inc-status");
    if (status) {
      status.textContent = text;
    }
  }

  function searchFrom(map, latlng) {
    var point = latlng.wrap();
    say("Searching from latitude " + point.lat.toFixed(DECIMALS) + ", longitude " +
        point.lng.toFixed(DECIMALS) + "…");
    if (map) {
      map.getContainer().classList.add("inc-map--busy");
    }
    window.location.assign(searchUrl(point));
  }

  /* "Use my location": the browser's position becomes the search point, as if it had been
   * clicked on the map. The server refuses a point far outside the study area and says
   * so; refused or unavailable positions are explained here. Hidden without geolocation. */
  var LOCATION_ERRORS = {
    1: "Your browser did not allow this page to use your location. Allow it in the " +
       "browser's site settings, or enter a postcode or click the map instead.",
    2: "Your location is not available just now (no signal or location service). Enter a " +
       "postcode or click the map instead.",
    3: "Finding your location took too long. Try again, or enter a postcode or click the " +
       "map instead."
  };

  /* the study area's bounds (grown by the distance the server still answers), if known */
  function inArea(button, lat, lon) {
    var text = button.getAttribute("data-area-bounds");
    if (!text) {
      return true;  /* the server checks too */
    }
    var b = JSON.parse(text);
    return lon >= b[0] && lat >= b[1] && lon <= b[2] && lat <= b[3];
  }

  function setUpLocation(map) {
    var buttons = document.querySelectorAll("[data-use-location]");
    if (!buttons.length || !("geolocation" in navigator) || !navigator.geolocation) {
      return;
    }
    buttons.forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        button.disabled = true;
        say("Finding your location…");
        navigator.geolocation.getCurrentPosition(function (position) {
          var lat = position.coords.latitude;
          var lon = position.coords.longitude;
          if (!inArea(button, lat, lon)) {
            button.disabled = false;
            say("You are outside the area this workspace covers (" +
                (button.getAttribute("data-area-name") || "the study area") + "), so there " +
                "are no groups near you to list. Enter a postcode or click the map instead.");
            return;
          }
          searchFrom(map, L.latLng(lat, lon));
        }, function (error) {
          button.disabled = false;
          say(LOCATION_ERRORS[error.code] || LOCATION_ERRORS[2]);
        }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
      });
    });
  }

  function showInList(rank) {
    var item = document.getElementById("group-" + rank);
    if (!item) {
      return;
    }
    var shown = document.querySelectorAll(".inc-result--shown");
    for (var i = 0; i < shown.length; i++) {
      shown[i].classList.remove("inc-result--shown");
    }
    item.classList.add("inc-result--shown");
    item.scrollIntoView({block: "nearest"});
    item.focus({preventScroll: true});
  }

  function setUpMap() {
    var frame = document.getElementById("inc-map");
    var name = frame && frame.getAttribute("data-map-name");
    var map = name ? window[name] : null;
    if (!map || typeof L === "undefined" || !(map instanceof L.Map)) {
      return;
    }
    setUpLocation(map);
    // a click moves the search point; a double click would otherwise search twice
    map.doubleClickZoom.disable();
    map.on("click", function (event) {
      searchFrom(map, event.latlng);
    });
    map.once("movestart", function () {
      frame.classList.add("inc-map-frame--moved");
    });
    map.eachLayer(function (layer) {
      if (layer instanceof L.Marker && layer.options.rank) {
        layer.on("click", function () {
          showInList(layer.options.rank);
        });
      }
    });
    var button = document.getElementById("inc-use-centre");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        searchFrom(map, map.getCenter());
      });
    }
  }

  function setUpErrors() {
    var summary = document.querySelector("[data-inc-autofocus]");
    if (summary) {
      summary.focus();
    }
  }

  function setUpPrint() {
    var button = document.getElementById("cs-print");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        window.print();
      });
    }
  }

  setUpErrors();
  setUpMap();
  setUpPrint();
})();
