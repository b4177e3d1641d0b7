"""Context layers on the maps: roads, water, rail, buildings and place names imported
with ``mapper import-context``, drawn under the data in a pane of their own.

:class:`ContextLayer` is one overlay in the layer control ("Streets and places"): a
canvas in the ``context`` pane (below the data's panes) and the place names in
``contextLabels`` (below the area labels and markers), filled by ``static/context.js``
from the app's ``/context/<kind>.geojson?bbox=...&zoom=...`` each time the map stops
moving. Styles and zooms come from :mod:`mapper.context_kinds`, the one table. No Flask
here: the URLs are passed in (:class:`ContextOverlay`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import folium
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from mapper.context_kinds import KINDS, LINE_STYLE, MIN_ZOOM, STYLES

#: the overlay's name in the layer control (and in the address's ``layers=``)
LAYER_NAME = "Streets and places"


@dataclass(frozen=True)
class ContextOverlay:
    """What a map needs to draw the workspace's context layers.

    `url` holds ``{kind}`` (the app's ``/context/{kind}.geojson``); `script` is the URL
    of ``static/context.js``; `kinds` those imported; `attribution` plain text (escaped
    when drawn); `version` changes with the imported file (it is in each request, so a
    browser may keep the answers)."""

    url: str
    script: str
    kinds: tuple[str, ...]
    attribution: tuple[str, ...]
    version: str

    def options(self) -> dict:
        """The options ``MapperContext.layer`` takes."""
        return {
            "url": self.url, "version": self.version,
            "kinds": [{"kind": k, "min_zoom": min(MIN_ZOOM[k].values())}
                      for k in KINDS if k in self.kinds],
            "styles": STYLES, "lineStyle": LINE_STYLE,
            "attribution": " | ".join(html.escape(a) for a in self.attribution),
            "name": LAYER_NAME,
        }


class ContextLayer(JSCSSMixin, Layer):
    """The context overlay of a map (see the module's docstring)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = window.MapperContext.layer(
            {{ this._parent.get_name() }}, {{ this.context_options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, overlay: ContextOverlay, *, name: str = LAYER_NAME):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "ContextLayer"
        self.context_options = overlay.options()
        self.default_js = [("mapper_context", overlay.script)]
        self.default_css = []


def add_context(m: folium.Map, overlay: ContextOverlay | None) -> None:
    """Draw `overlay` under `m`'s data (nothing when None: no context imported). Call it
    right after the background tiles, before the data layers and the layer control."""
    if overlay is not None:
        ContextLayer(overlay).add_to(m)


__all__ = ["LAYER_NAME", "ContextLayer", "ContextOverlay", "add_context"]
