/* Neighbourhood and ward pages: live filtering of the asset table and map markers,
   sortable table headers, "show on map", printing, and the ward search. Plain JavaScript,
   no libraries. Everything here is an enhancement: without it the forms submit to the
   server, which filters (?category=, ?q=) and sorts (?sort=) the same way. */
(function () {
  "use strict";

  function words(text) {
    return text.toLowerCase().split(/\s+/).filter(Boolean);
  }

  function containsAll(haystack, needles) {
    return needles.every(function (w) { return haystack.indexOf(w) !== -1; });
  }

  /* -- the asset table and map ------------------------------------------------------- */

  function assetRows(table) {
    return Array.prototype.filter.call(table.tBodies[0].rows, function (row) {
      return row.hasAttribute("data-asset-key");
    });
  }

  function rowMatches(row, category, needles) {
    var kind = row.getAttribute("data-kind");
    if (category) {
      if (category.indexOf("kind:") === 0) {
        if (kind !== category.slice(5)) { return false; }
      } else if (kind + ":" + row.getAttribute("data-category") !== category) {
        return false;
      }
    }
    return containsAll(row.getAttribute("data-search") || "", needles);
  }

  function initAssets() {
    var form = document.querySelector("[data-asset-filters]");
    var table = document.getElementById("asset-table");
    if (!form || !table) { return; }
    var select = form.querySelector("select[name=category]");
    var input = form.querySelector("input[name=q]");
    var count = document.getElementById("asset-count");
    var empty = table.querySelector("[data-empty]");
    var rows = assetRows(table);
    var registry = window.neighbourhoodAssetMap;
    var markers = registry ? registry.layer.getLayers() : [];
    var exports = document.querySelectorAll("a[data-export]");
    var applyButton = form.querySelector("[data-apply]");
    if (applyButton) { applyButton.hidden = true; }  // filtering is live

    function apply() {
      var category = select.value;
      var needles = words(input.value);
      var shown = {};
      var n = 0;
      rows.forEach(function (row) {
        var ok = rowMatches(row, category, needles);
        row.hidden = !ok;
        if (ok) { shown[row.getAttribute("data-asset-key")] = true; n += 1; }
      });
      if (registry) {
        registry.layer.clearLayers();
        registry.layer.addLayers(markers.filter(function (m) {
          return shown[m.options.assetId];
        }));
      }
      if (empty) { empty.hidden = n > 0; }
      count.textContent = "Showing " + n + " of " + rows.length;
      updateUrls(category, input.value.trim());
    }

    function updateUrls(category, query) {
      exports.forEach(function (link) {
        var url = new URL(link.href, window.location.href);
        setParam(url, "category", category);
        setParam(url, "q", query);
        link.href = url.pathname + url.search;
      });
      // keep the filter in the address so reloading or printing shows the same list
      var page = new URL(window.location.href);
      setParam(page, "category", category);
      setParam(page, "q", query);
      window.history.replaceState(null, "", page.pathname + page.search + page.hash);
      document.querySelectorAll("#asset-sort input[name=category], #asset-sort input[name=q]")
        .forEach(function (el) { el.remove(); });
      // the incident filter's form reloads the page: it takes the list's filter along
      var counting = document.getElementById("incident-filter");
      if (counting) {
        [["category", category], ["q", query]].forEach(function (pair) {
          var field = counting.querySelector("input[type=hidden][name=" + pair[0] + "]");
          if (!pair[1]) { if (field) { field.remove(); } return; }
          if (!field) {
            field = document.createElement("input");
            field.type = "hidden";
            field.name = pair[0];
            counting.appendChild(field);
          }
          field.value = pair[1];
        });
      }
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    select.addEventListener("change", apply);
    input.addEventListener("input", apply);
    apply();
  }

  function setParam(url, name, value) {
    if (value) { url.searchParams.set(name, value); } else { url.searchParams.delete(name); }
  }

  /* -- sorting ------------------------------------------------------------------------ */

  function initSort() {
    var table = document.getElementById("asset-table");
    if (!table) { return; }
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var status = document.getElementById("sort-status");
    var collator = new Intl.Collator("en-GB", { numeric: true, sensitivity: "base" });

    headers.forEach(function (th, column) {
      var button = th.querySelector("button[data-sort]");
      if (!button) { return; }
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var direction = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        sortRows(table, column, direction, collator);
        headers.forEach(function (other) {
          other.removeAttribute("aria-sort");
          var b = other.querySelector("button[data-sort]");
          if (b) { b.value = b.getAttribute("data-sort"); }
        });
        th.setAttribute("aria-sort", direction);
        button.value = (direction === "ascending" ? "-" : "") + button.getAttribute("data-sort");
        if (status) {
          status.textContent = "Sorted by " + button.textContent.trim().toLowerCase() +
            ", " + direction + ".";
        }
        var hidden = document.querySelector("[data-asset-filters] input[name=sort]");
        if (hidden) { hidden.value = (direction === "descending" ? "-" : "") + button.getAttribute("data-sort"); }
      });
    });
  }

  function sortRows(table, column, direction, collator) {
    var body = table.tBodies[0];
    var rows = assetRows(table);
    var sign = direction === "ascending" ? 1 : -1;
    var verified = headers(table)[column] === "verified";
    function value(row, i) {
      var cell = row.cells[i];
      return cell ? (cell.getAttribute("data-sort-value") || "") : "";
    }
    rows.sort(function (a, b) {
      var va = value(a, column);
      var vb = value(b, column);
      var result;
      if (!verified && (va === "" || vb === "")) {
        result = (va === "") - (vb === "");  // blanks last, whichever the direction
        if (result) { return result; }
      }
      result = sign * collator.compare(va, vb);
      return result || collator.compare(value(a, 0), value(b, 0));
    });
    var empty = body.querySelector("[data-empty]");
    rows.forEach(function (row) { body.insertBefore(row, empty); });
  }

  function headers(table) {
    return Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
      var b = th.querySelector("button[data-sort]");
      return b ? b.getAttribute("data-sort") : "";
    });
  }

  /* -- "show on map" ------------------------------------------------------------------ */

  function initShowOnMap() {
    var registry = window.neighbourhoodAssetMap;
    var table = document.getElementById("asset-table");
    if (!registry || !table) { return; }
    var byKey = {};
    registry.layer.getLayers().forEach(function (m) { byKey[m.options.assetId] = m; });
    var mapElement = registry.map.getContainer();
    assetRows(table).forEach(function (row) {
      var marker = byKey[row.getAttribute("data-asset-key")];
      if (!marker) { return; }
      var name = row.querySelector(".nb-asset-name");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "nb-show-on-map";
      button.textContent = "Show on map";
      button.setAttribute("aria-label", "Show " + (name ? name.textContent.trim() : "it") + " on the map");
      button.addEventListener("click", function () {
        mapElement.scrollIntoView({ behavior: "smooth", block: "center" });
        registry.layer.zoomToShowLayer(marker, function () {
          marker.openPopup();
          var icon = marker.getElement();
          if (icon) { icon.focus({ preventScroll: true }); }
        });
      });
      (name ? name.parentNode : row.cells[0]).appendChild(button);
    });
  }

  /* -- printing ----------------------------------------------------------------------- */

  function initPrint() {
    var registry = window.neighbourhoodAssetMap;
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
    if (!registry) { return; }
    // the map is smaller on paper: redraw it to fit its new size, and back afterwards
    function refit() {
      registry.map.invalidateSize({ animate: false });
      if (registry.bounds) {
        registry.map.fitBounds(registry.bounds, { padding: [8, 8], animate: false });
      }
    }
    var media = window.matchMedia("print");
    if (media.addEventListener) { media.addEventListener("change", refit); }
    window.addEventListener("beforeprint", refit);
    window.addEventListener("afterprint", refit);
  }

  /* -- the ward search on /neighbourhoods --------------------------------------------- */

  function initWardSearch() {
    var form = document.querySelector("[data-ward-search]");
    var table = document.getElementById("ward-table");
    if (!form || !table) { return; }
    var input = form.querySelector("input[name=q]");
    var count = document.getElementById("ward-count");
    var empty = table.querySelector("[data-empty]");
    var emptyQuery = table.querySelector("[data-empty-query]");
    var rows = Array.prototype.filter.call(table.tBodies[0].rows, function (row) {
      return row.hasAttribute("data-search");
    });
    input.addEventListener("input", function () {
      var needles = words(input.value);
      var n = 0;
      rows.forEach(function (row) {
        var ok = containsAll(row.getAttribute("data-search"), needles);
        row.hidden = !ok;
        if (ok) { n += 1; }
      });
      if (empty) { empty.hidden = n > 0; }
      if (emptyQuery) { emptyQuery.textContent = input.value.trim(); }
      count.textContent = "Showing " + n + " of " + rows.length + (rows.length === 1 ? " ward" : " wards");
    });
    // Enter still submits: the server goes straight to a ward whose code or name matches.
  }

  function init() {
    initAssets();
    initSort();
    initShowOnMap();
    initPrint();
    initWardSearch();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
