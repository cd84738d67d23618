// A canvas layer over the tiles: photos outside the filter (or, while a cluster is hovered in the
// clusters panel, outside that cluster) are dimmed, selected photos tinted.
// Each canvas tile paints one pixel per cell into a small image and scales it up unsmoothed, so
// the cost of a tile is the number of cells it covers, whatever the zoom.

const DIM = [0, 0, 0, 190];
const SELECTED = [40, 140, 255, 120];
// When a cell is drawn smaller than this many screen pixels, matches are tinted to stay visible.
const SMALL_CELL_PX = 6;
const MATCH_SMALL = [255, 212, 0, 150];
const CLUSTER_SMALL = [0, 230, 255, 170];

export function createOverlay(view, data, state) {
  const config = view.config;
  const Overlay = L.GridLayer.extend({
    createTile(coords) {
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = config.tile_px;
      paint(canvas, coords);
      return canvas;
    },
  });
  const layer = new Overlay({
    tileSize: config.tile_px, bounds: view.bounds, noWrap: true, minZoom: 0,
    maxZoom: config.max_zoom + config.overzoom, className: 'filter-overlay', pane: 'overlayPane',
  });

  function paint(canvas, coords) {
    const hovered = state.cluster >= 0;
    if (!state.filterActive && state.selectedCount === 0 && !hovered) return;
    const clusters = data.columns.cluster;
    // The tile's extent in deepest-zoom pixels, then in cells.
    const size = config.tile_px * Math.pow(2, config.max_zoom - coords.z);
    const left = coords.x * size;
    const top = coords.y * size;
    const c0 = Math.max(0, Math.floor(left / config.cell_px));
    const r0 = Math.max(0, Math.floor(top / config.cell_px));
    const c1 = Math.min(config.cols, Math.ceil((left + size) / config.cell_px));
    const r1 = Math.min(config.rows, Math.ceil((top + size) / config.cell_px));
    if (c1 <= c0 || r1 <= r0) return;
    const width = c1 - c0;
    const height = r1 - r0;
    const scale = config.tile_px / size;
    const small = config.cell_px * scale < SMALL_CELL_PX;
    const image = new ImageData(width, height);
    const pixels = image.data;
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) {
        const photo = data.cells[r * config.cols + c];
        if (photo < 0) continue;
        let colour = null;
        if (state.selected[photo]) colour = SELECTED;
        else if (hovered) colour = clusters[photo] === state.cluster ? (small ? CLUSTER_SMALL : null) : DIM;
        else if (state.filterActive) colour = state.match[photo] ? (small ? MATCH_SMALL : null) : DIM;
        if (colour === null) continue;
        const at = 4 * ((r - r0) * width + (c - c0));
        pixels[at] = colour[0];
        pixels[at + 1] = colour[1];
        pixels[at + 2] = colour[2];
        pixels[at + 3] = colour[3];
      }
    }
    const cells = document.createElement('canvas');
    cells.width = width;
    cells.height = height;
    cells.getContext('2d').putImageData(image, 0, 0);
    const context = canvas.getContext('2d');
    context.imageSmoothingEnabled = false;
    context.drawImage(cells, (c0 * config.cell_px - left) * scale, (r0 * config.cell_px - top) * scale,
      width * config.cell_px * scale, height * config.cell_px * scale);
  }

  layer.addTo(view.map);
  return layer;
}
