// The Leaflet map of photo tiles (CRS.Simple) and the conversions between map, pixels and cells.
// Pixel coordinates are those of the deepest zoom, where one cell is config.cell_px wide.

export function createMap(config) {
  const maxZoom = config.max_zoom;
  const map = L.map('map', {
    crs: L.CRS.Simple,
    minZoom: 0,
    maxZoom: maxZoom + config.overzoom,
    zoomControl: true,
    attributionControl: false,
    boxZoom: false, // shift is for adding photos to the selection
    keyboard: false, // the arrow keys move between photos (keyboard.js)
  });
  const toLatLng = (x, y) => map.unproject([x, y], maxZoom);
  let tiles = null;
  // The tiles of a grid (the look-alike map, or an arrangement: arrangements.js). Positions stay
  // in the first map's pixels, so a zoom means the same cell size in every arrangement; a pyramid
  // with another depth is read with its levels shifted (zoomOffset). `place` ({centre, zoom}) is
  // where the view goes: set before the new bounds, so the old ones cannot hold it back.
  function showTiles(grid, place) {
    const shown = L.latLngBounds(toLatLng(0, grid.height), toLatLng(grid.width, 0));
    const offset = grid.max_zoom - maxZoom;
    if (tiles !== null) tiles.remove();
    tiles = L.tileLayer(grid.tile_url, {
      tileSize: config.tile_px,
      bounds: shown, // no tile outside the map is ever requested
      noWrap: true,
      zoomOffset: offset,
      minZoom: Math.min(0, -offset),
      minNativeZoom: -offset,
      maxNativeZoom: maxZoom,
      maxZoom: maxZoom + config.overzoom,
    }).addTo(map);
    map.setMaxBounds(null);
    map.setMinZoom(Math.min(0, -offset));
    if (place) map.setView(place.centre, Math.max(place.zoom, map.getMinZoom()), { animate: false });
    map.setMaxBounds(shown.pad(0.25));
    return shown;
  }
  const bounds = showTiles(config);
  map.fitBounds(bounds);

  const cell = config.cell_px;
  return {
    map: map,
    tiles: tiles,
    config: config,
    bounds: bounds,
    toLatLng: toLatLng,
    // Show another grid's tiles; config's rows, cols, width and height must already be its own.
    setTiles(grid, place) {
      this.bounds = showTiles(grid, place);
      return this.bounds;
    },
    toPixel: (latlng) => map.project(latlng, maxZoom),
    // Cell number under a map position, or -1 outside the grid.
    cellAt(latlng) {
      const point = map.project(latlng, maxZoom);
      const col = Math.floor(point.x / cell);
      const row = Math.floor(point.y / cell);
      const inside = row >= 0 && row < config.rows && col >= 0 && col < config.cols;
      return inside ? row * config.cols + col : -1;
    },
    cellBounds(cellNumber) {
      const x = (cellNumber % config.cols) * cell;
      const y = Math.floor(cellNumber / config.cols) * cell;
      return L.latLngBounds(toLatLng(x, y + cell), toLatLng(x + cell, y));
    },
    // Bring a cell into view, zoomed in far enough to see the photo.
    show(cellNumber, how) {
      const centre = this.cellBounds(cellNumber).getCenter();
      const zoom = Math.max(map.getZoom(), maxZoom);
      if (how === 'fly') map.flyTo(centre, zoom, { duration: 0.6 });
      else if (how === 'jump') map.setView(centre, zoom);
      else if (!map.getBounds().pad(-0.05).contains(centre)) map.panTo(centre);
    },
  };
}

// A cell outline (hover, open photo) that follows whichever cell it is given.
export function cellMarker(view, className, colour) {
  let rectangle = null;
  return {
    set(cellNumber) {
      if (cellNumber < 0) {
        if (rectangle !== null) rectangle.remove();
        rectangle = null;
        return;
      }
      const box = view.cellBounds(cellNumber);
      if (rectangle === null) {
        rectangle = L.rectangle(box, {
          className: className, color: colour, weight: 3, fill: false, interactive: false,
        }).addTo(view.map);
      } else {
        rectangle.setBounds(box);
      }
    },
  };
}
