"""folium map builders, one module per page; no Flask here.

Maps take frames in EPSG:27700 and reproject them for display only through
:func:`mapper.geo.to_display`. Every map loads its scripts and styles from our own app
(:mod:`mapper.maps.assets`), never from a CDN.
"""

from mapper.maps.assets import MapParts, map_parts, use_local_assets
from mapper.maps.base import TILE_CHOICES
from mapper.maps.overview import ward_map

__all__ = ["TILE_CHOICES", "MapParts", "map_parts", "use_local_assets", "ward_map"]
