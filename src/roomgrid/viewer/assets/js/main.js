// roomgrid viewer: wires the map, the data, the panel, filters, search, selection and keys together.
// The map paints from the tiles at once; the rest starts when data/index.json and data/grid.bin are in.
import { loadData } from './data.js';
import { createMap, cellMarker } from './map.js';
import { createOverlay } from './overlay.js';
import { createPanel } from './panel.js';
import { createFilters } from './filters.js';
import { createSearch } from './search.js';
import { createSelection } from './selection.js';
import { createExport } from './export.js';
import { createZipExport } from './ziparchive.js';
import { createKeyboard } from './keyboard.js';
import { createClusters } from './clusters.js';
import { formatNumber, option, safeDecode } from './text.js';
import { createArrangements } from './arrangements.js';

const config = JSON.parse(document.getElementById('map-config').textContent);
const view = createMap(config);
const map = view.map;
const byId = (id) => document.getElementById(id);

function status(message) {
  byId('status').textContent = message;
}

// The overview: the coarsest tile, with the part of the map in view outlined; a click goes there.
function createMinimap() {
  const box = byId('minimap');
  const image = byId('minimap-image');
  const frame = byId('minimap-view');
  image.src = config.tile_url.replace('{z}', 0).replace('{x}', 0).replace('{y}', 0);
  image.addEventListener('error', () => { box.hidden = true; });
  let side = config.tile_px * Math.pow(2, config.max_zoom); // deepest-zoom pixels in tile 0/0/0
  // An arrangement's overview is its own coarsest tile (arrangements.js).
  map.on('arrangement', (event) => {
    image.src = event.tile_url.replace('{z}', 0).replace('{x}', 0).replace('{y}', 0);
    side = config.tile_px * Math.pow(2, event.max_zoom);
    update();
  });
  function update() {
    const shown = map.getBounds();
    const a = view.toPixel(shown.getNorthWest());
    const b = view.toPixel(shown.getSouthEast());
    const w = box.clientWidth;
    const clamp = (v) => Math.min(Math.max(v, 0), w);
    frame.style.left = clamp(a.x / side * w) + 'px';
    frame.style.top = clamp(a.y / side * w) + 'px';
    frame.style.width = (clamp(b.x / side * w) - clamp(a.x / side * w)) + 'px';
    frame.style.height = (clamp(b.y / side * w) - clamp(a.y / side * w)) + 'px';
  }
  box.addEventListener('click', (event) => {
    const rect = box.getBoundingClientRect();
    const x = (event.clientX - rect.left) / rect.width * side;
    const y = (event.clientY - rect.top) / rect.height * side;
    map.panTo(view.toLatLng(x, y));
  });
  map.on('move zoom resize', update);
  update();
}

// The counts line: photos, cities and the shown grid's size (config's rows and cols are the shown
// arrangement's, so it is rewritten on every switch).
function showCounts(data) {
  byId('counts').textContent = formatNumber(data.count) + ' photos \u00b7 ' + data.cities.length +
    (data.cities.length === 1 ? ' city' : ' cities') + ' \u00b7 ' + config.rows + '\u00d7' + config.cols + ' cells';
}

function showHeader(data) {
  const index = data.index;
  showCounts(data);
  map.on('arrangement', () => showCounts(data));
  const list = byId('settings-list');
  const settings = Object.assign({
    'cell size': config.cell_px + ' px', 'tile size': config.tile_px + ' px', 'zoom levels': config.max_zoom + 1,
  }, index.settings);
  for (const [name, value] of Object.entries(settings)) {
    const term = document.createElement('dt');
    term.textContent = name;
    const detail = document.createElement('dd');
    detail.textContent = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    list.append(term, detail);
  }
  for (const name of index.classes.concat(index.labels)) {
    if (![...byId('label-classes').options].some((o) => o.value === name)) byId('label-classes').append(option(name, name));
  }
}

function start(data) {
  const hover = cellMarker(view, 'hover-cell', '#ffffff');
  const opened = cellMarker(view, 'selected-cell', '#ffd400');
  const overlayState = { filterActive: false, match: null, selected: null, selectedCount: 0, cluster: -1 };
  let overlay = null;
  const redraw = () => { if (overlay !== null) overlay.redraw(); };
  let openCell = -1;

  const panel = createPanel(view, data, (index) => (index < 0 ? close() : open(index, 'fly')));

  async function open(index, how) {
    openCell = data.cellOf[index];
    opened.set(openCell);
    view.show(openCell, how);
    const shown = panel.open(index);
    const photo = await data.photo(index).catch(() => null);
    await shown;
    if (photo !== null && panel.current() === index) {
      history.replaceState(null, '', '#' + arrangements.hashPrefix() + 'id=' + encodeURIComponent(photo.id));
    }
  }

  function close() {
    openCell = -1;
    opened.set(-1);
    if (!panel.isOpen()) return;
    panel.close();
    const kept = arrangements.hashPrefix();
    history.replaceState(null, '', location.pathname + location.search + (kept ? '#' + kept.slice(0, -1) : ''));
  }

  const filter = createFilters(data, (result) => {
    overlayState.filterActive = result.active;
    overlayState.match = result.match;
    redraw();
  });
  const selection = createSelection(view, data, filter, (state) => {
    overlayState.selectedCount = state.count;
    redraw();
  });
  overlayState.selected = selection.selected;
  overlay = createOverlay(view, data, overlayState);
  const search = createSearch(data, (index) => open(index, 'jump'));
  let group = null; // the last selection saved as labels: a named group for the cull config
  let clusters = null;
  createExport(config, data, selection, status, (saved) => {
    group = saved;
    if (clusters !== null) clusters.refresh();
  });
  clusters = createClusters(view, data, {
    highlight(number) {
      if (overlayState.cluster === number) return;
      overlayState.cluster = number;
      redraw();
    },
    filterTo: (number) => filter.setCluster(number),
    status: status,
    group: () => (group === null ? null : Object.assign({ drop: byId('label-drop').checked }, group)),
    afterFirstPaint: (callback) => firstPaint.then(callback),
  });
  for (const element of document.querySelectorAll('[data-needs=clusters]')) element.hidden = clusters === null;
  byId('label-drop').addEventListener('change', () => { if (clusters !== null) clusters.refresh(); });
  const zip = createZipExport(config, data, selection, status);
  createKeyboard(view, data, { open: (index) => open(index, 'pan'), close: close, focused: () => openCell });
  const arrangements = createArrangements(view, data, {
    overlay: overlay,
    openPhoto: () => (openCell >= 0 ? data.cells[openCell] : -1),
    switched(photo) {
      if (openCell >= 0) openCell = data.cellOf[photo];
      opened.set(openCell);
      hover.set(-1);
    },
  });

  map.on('click', (event) => {
    const cell = view.cellAt(event.latlng);
    if (event.originalEvent.shiftKey) {
      if (cell >= 0) selection.toggle(cell);
      return;
    }
    if (selection.isDrawing()) return; // the drag was a rectangle or lasso
    if (cell >= 0 && data.cells[cell] >= 0) open(data.cells[cell], 'stay'); else close();
  });
  map.on('mousemove', (event) => {
    const cell = view.cellAt(event.latlng);
    hover.set(cell >= 0 && data.cells[cell] >= 0 ? cell : -1);
  });
  map.on('mouseout', () => hover.set(-1));

  async function openFromHash() {
    await arrangements.fromHash();
    const match = /(?:^#|&)id=(.*)$/.exec(location.hash);
    if (match === null) return;
    const id = safeDecode(match[1]);
    if (id === null) {
      status('The address names no readable photo id; showing the whole map.');
      return;
    }
    const index = await data.findId(id).catch(() => -1);
    if (index < 0) status('Photo ' + JSON.stringify(id) + ' is not on this map.');
    else await open(index, 'jump');
  }
  window.addEventListener('hashchange', openFromHash);
  showHeader(data);
  Object.assign(window.roomgrid, {
    data: data, open: open, close: close, filter: filter, selection: selection, search: search,
    clusters: clusters, zip: zip,
    arrangements: arrangements,
  });
  return openFromHash();
}

createMinimap();
// Resolves once the first tiles have painted: what is not needed to use the page waits for it.
const firstPaint = new Promise((resolve) => view.tiles.once('load', resolve));
const ready = loadData()
  .then(start)
  .catch((error) => status('The photo data could not be loaded (' + error.message + '); the map shows tiles only.'))
  .finally(() => {
    // What is fetched after this mark (place names, the clusters panel) is not the first load.
    performance.mark('roomgrid-ready');
    document.body.dataset.ready = 'true';
  });

// A handle for debugging from the console and for the browser tests.
window.roomgrid = { map: map, config: config, view: view, ready: ready };
