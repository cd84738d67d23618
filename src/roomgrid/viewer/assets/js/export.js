// Downloads of the selected photos: ids as CSV or JSON, lines for exclude.list_file, and
// id,class rows for cull.labels_csv. Everything is built in the page; nothing is uploaded.
import { csvField } from './text.js';

// exclude.list_file reads globs; an id is written so that it matches only itself ("[" "*" "?"
// become one-character classes). "#" starts a comment there, so it becomes "?", which may also
// match an id differing only in that character.
export function excludeLine(id) {
  return id.replace(/[[*?]/g, (c) => '[' + c + ']').replace(/#/g, '?');
}

// Saves text as a file named `name`, made in the page.
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type: type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// onLabelled({name, file}) is told of each selection saved as labels, a group the clusters panel's
// config can name and drop.
export function createExport(config, data, selection, status, onLabelled) {
  const byId = (id) => document.getElementById(id);

  async function selectedPhotos() {
    const indices = selection.indices();
    if (indices.length === 0) {
      status('Select photos first (rectangle, lasso or shift-click).');
      return null;
    }
    try {
      return await data.photos(indices);
    } catch (error) {
      status('Could not load the ids: ' + error.message);
      return null;
    }
  }

  function cellOf(photo) {
    const cell = data.cellOf[photo.index];
    return [Math.floor(cell / config.cols), cell % config.cols];
  }

  byId('export-csv').addEventListener('click', async () => {
    const photos = await selectedPhotos();
    if (photos === null) return;
    const lines = ['id,city,row,col'].concat(photos.map((p) => {
      const [row, col] = cellOf(p);
      return [p.id, p.city, row, col].map(csvField).join(',');
    }));
    download('selection.csv', 'text/csv', lines.join('\n') + '\n');
  });
  byId('export-json').addEventListener('click', async () => {
    const photos = await selectedPhotos();
    if (photos === null) return;
    download('selection.json', 'application/json', JSON.stringify(photos.map((p) => p.id), null, 1) + '\n');
  });
  byId('export-exclude').addEventListener('click', async () => {
    const photos = await selectedPhotos();
    if (photos === null) return;
    download('exclude.txt', 'text/plain', photos.map((p) => excludeLine(p.id)).join('\n') + '\n');
  });
  byId('export-labels').addEventListener('click', async () => {
    const label = byId('label-class').value.trim();
    if (label === '') {
      status('Type the class to label the selection with.');
      byId('label-class').focus();
      return;
    }
    const photos = await selectedPhotos();
    if (photos === null) return;
    const lines = ['id,class'].concat(photos.map((p) => csvField(p.id) + ',' + csvField(label)));
    download('labels.csv', 'text/csv', lines.join('\n') + '\n');
    if (onLabelled) onLabelled({ name: label, file: 'labels.csv' });
  });
}
