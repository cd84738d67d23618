// Selecting photos: a rectangle or lasso dragged over the map, or shift-click on one photo.
// With a filter on, only the photos it highlights are taken.

export function createSelection(view, data, filter, onChange) {
  const map = view.map;
  const config = view.config;
  const selected = new Uint8Array(data.count);
  const state = { selected: selected, count: 0 };
  let mode = 'pan';
  let points = null; // deepest-zoom pixel points of the shape being drawn
  let preview = null;

  function changed() {
    let count = 0;
    for (let i = 0; i < selected.length; i++) count += selected[i];
    state.count = count;
    document.getElementById('selection-count').textContent = count + ' selected';
    onChange(state);
  }

  function takes(photo) {
    return photo >= 0 && (!filter.active || filter.match[photo] === 1);
  }

  function toggle(cellNumber) {
    const photo = data.cells[cellNumber];
    if (!takes(photo)) return;
    selected[photo] = selected[photo] ? 0 : 1;
    changed();
  }

  function addRectangle(a, b) {
    const c0 = Math.max(0, Math.floor(Math.min(a.x, b.x) / config.cell_px));
    const c1 = Math.min(config.cols - 1, Math.floor(Math.max(a.x, b.x) / config.cell_px));
    const r0 = Math.max(0, Math.floor(Math.min(a.y, b.y) / config.cell_px));
    const r1 = Math.min(config.rows - 1, Math.floor(Math.max(a.y, b.y) / config.cell_px));
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const photo = data.cells[r * config.cols + c];
        if (takes(photo)) selected[photo] = 1;
      }
    }
  }

  // Cells whose centre lies inside the polygon (even-odd rule).
  function addLasso(polygon) {
    const xs = polygon.map((p) => p.x);
    const ys = polygon.map((p) => p.y);
    const c0 = Math.max(0, Math.floor(Math.min(...xs) / config.cell_px));
    const c1 = Math.min(config.cols - 1, Math.floor(Math.max(...xs) / config.cell_px));
    const r0 = Math.max(0, Math.floor(Math.min(...ys) / config.cell_px));
    const r1 = Math.min(config.rows - 1, Math.floor(Math.max(...ys) / config.cell_px));
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const photo = data.cells[r * config.cols + c];
        if (takes(photo) && inside((c + 0.5) * config.cell_px, (r + 0.5) * config.cell_px, polygon)) {
          selected[photo] = 1;
        }
      }
    }
  }

  map.on('mousedown', (event) => {
    if (mode === 'pan' || event.originalEvent.button !== 0) return;
    points = [view.toPixel(event.latlng)];
    preview = (mode === 'rectangle'
      ? L.rectangle(L.latLngBounds(event.latlng, event.latlng), { className: 'drawn-shape' })
      : L.polygon([event.latlng], { className: 'drawn-shape' })).addTo(map);
  });
  map.on('mousemove', (event) => {
    if (points === null) return;
    const point = view.toPixel(event.latlng);
    if (mode === 'rectangle') {
      points[1] = point;
      preview.setBounds(L.latLngBounds(view.toLatLng(points[0].x, points[0].y), event.latlng));
    } else {
      points.push(point);
      preview.addLatLng(event.latlng);
    }
  });
  function finish() {
    if (points === null) return;
    if (mode === 'rectangle' && points.length === 2) addRectangle(points[0], points[1]);
    else if (mode === 'lasso' && points.length >= 3) addLasso(points);
    points = null;
    preview.remove();
    preview = null;
    changed();
  }
  map.on('mouseup', finish);
  document.addEventListener('mouseup', finish);

  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener('change', () => {
      mode = radio.value;
      if (mode === 'pan') map.dragging.enable(); else map.dragging.disable();
      document.getElementById('map').dataset.mode = mode;
    });
  }
  document.getElementById('selection-clear').addEventListener('click', () => {
    selected.fill(0);
    changed();
  });

  state.toggle = toggle;
  state.indices = () => {
    const out = [];
    for (let i = 0; i < selected.length; i++) if (selected[i]) out.push(i);
    return out;
  };
  state.isDrawing = () => mode !== 'pan';
  return state;
}

function inside(x, y, polygon) {
  let result = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[i];
    const b = polygon[j];
    if ((a.y > y) !== (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) result = !result;
  }
  return result;
}
