// Arrow keys move to the nearest photo in that direction, Enter opens the one under focus, Escape closes.

const STEPS = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };

export function createKeyboard(view, data, actions) {
  const config = view.config;

  // The cell at the centre of the view, to start from when no photo is open.
  function centreCell() {
    const cell = view.cellAt(view.map.getCenter());
    return cell >= 0 ? cell : 0;
  }

  function next(cell, [dr, dc]) {
    let row = Math.floor(cell / config.cols) + dr;
    let col = (cell % config.cols) + dc;
    while (row >= 0 && row < config.rows && col >= 0 && col < config.cols) {
      const candidate = row * config.cols + col;
      if (data.cells[candidate] >= 0) return candidate;
      row += dr;
      col += dc;
    }
    return -1;
  }

  document.addEventListener('keydown', (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement ||
        target instanceof HTMLTextAreaElement) {
      if (event.key === 'Escape') target.blur();
      return;
    }
    if (event.key === 'Escape') {
      actions.close();
      return;
    }
    if (event.key === 'Enter' && !(target instanceof HTMLButtonElement)) {
      const cell = actions.focused() >= 0 ? actions.focused() : centreCell();
      if (data.cells[cell] >= 0) actions.open(data.cells[cell]);
      return;
    }
    const step = STEPS[event.key];
    if (step === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    // With no photo open, the first arrow opens the photo at the centre (or the next one along).
    const focused = actions.focused();
    const from = focused >= 0 ? focused : centreCell();
    const to = focused < 0 && data.cells[from] >= 0 ? from : next(from, step);
    if (to >= 0) actions.open(data.cells[to]);
  });
}
