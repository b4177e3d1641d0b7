"""Scripts the browser tests run in a page, shared by tests in several folders."""

from __future__ import annotations

#: page coordinates of the centre of one ward
WARD_CENTRE_JS = """
(code) => {
    const id = document.querySelector('.folium-map').id;
    const map = window[id];
    let point = null;
    map.eachLayer(layer => {
        const props = layer.feature && layer.feature.properties;
        if (props && props.ward_code === code) {
            const p = map.latLngToContainerPoint(layer.getBounds().getCenter());
            const box = map.getContainer().getBoundingClientRect();
            point = {x: box.left + p.x, y: box.top + p.y};
        }
    });
    return point;
}
"""
