// The selected photos' original files as one ZIP, with metadata.csv (one row of listing fields per
// photo) and missing.txt (each photo whose original could not be fetched, and why). Built in the
// page by client-zip (lib/client-zip, loaded when an export starts) and streamed: a photo is
// fetched only when the ZIP writer is about to need it, so thousands of photos never sit in memory.
// Where the browser can write straight to a file (the File System Access API: Chrome, Edge) the ZIP
// goes to the file the user picks; elsewhere it is collected in a Blob and downloaded.
import { download } from './export.js';
import { csvField, formatNumber } from './text.js';

export const ZIP_NAME = 'photos.zip';
// Past either limit, the export says how big it will be and waits for a second click.
export const LIMITS = { bytes: 500e6, photos: 2000 };
// Photos fetched ahead of the one being written: keeps the connection busy, bounds what is held.
const AHEAD = 4;
// Bytes of ZIP headers per photo besides its name (local and central headers, Zip64 fields).
const ENTRY_BYTES = 150;
const COLUMNS = ['id', 'city', 'file', 'url', 'title', 'price', 'bedrooms', 'sqft', 'neighbourhood',
  'posted', 'post_id', 'row', 'col', 'bin', 'predicted_class', 'predicted_probability', 'cluster',
  'label'];

export function formatBytes(bytes) {
  if (bytes >= 1e9) return (bytes / 1e9).toFixed(1) + ' GB';
  if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + ' MB';
  return Math.ceil(bytes / 1e3) + ' kB';
}

// The path of a photo inside the ZIP: its place under photos/ (city/...), without segments that
// could climb out of the folder it is extracted to.
function entryPath(file) {
  const path = decodeURIComponent(file.slice('photos/'.length));
  return path.split('/').filter((part) => part !== '' && part !== '.' && part !== '..').join('/');
}

// `path`, or `path` with " (2)", " (3)"... before its extension if an earlier entry took it (case
// folded, as Windows and macOS extract).
function uniquePath(path, used) {
  let candidate = path;
  for (let n = 2; used.has(candidate.toLowerCase()); n++) {
    candidate = path.replace(/(\.[^./]*)?$/, (extension) => ' (' + n + ')' + extension);
  }
  used.add(candidate.toLowerCase());
  return candidate;
}

// Why a photo has no file the page can fetch (null when it has one).
function noFileReason(data, photo) {
  if (photo.file !== null) return null;
  return data.cityOf(photo.index).linked
    ? "its file lies outside its city's photo folder, so the viewer does not serve it"
    : 'no photo folder of its city is linked in this build';
}

function fetchReason(response, error) {
  if (error !== null) return 'could not be fetched (' + error.message + ')';
  if (response.status === 404) return 'not found (HTTP 404): moved or deleted since the map was built';
  return 'the server answered HTTP ' + response.status;
}

// The expected size of the ZIP: the file sizes the build recorded, an average of them for photos
// with a file but no recorded size; null when no size at all is known.
export function estimateBytes(photos) {
  let known = 0;
  let sized = 0;
  let unsized = 0;
  let names = 0;
  for (const photo of photos) {
    if (photo.file === null) continue;
    names += photo.file.length;
    if (typeof photo.bytes === 'number') {
      known += photo.bytes;
      sized += 1;
    } else unsized += 1;
  }
  if (sized === 0) return null;
  const files = sized + unsized;
  return known + unsized * (known / sized) + files * ENTRY_BYTES + 2 * names;
}

function code(values, value) {
  return value < values.length ? values[value] : null;
}

export function createZipExport(config, data, selection, status) {
  const byId = (id) => document.getElementById(id);
  const notice = byId('zip-notice');
  const button = byId('export-zip');
  const state = { limits: Object.assign({}, LIMITS), running: null, pending: null };
  let busy = false; // from a click to the ZIP saved: a second click starts nothing more

  async function guarded(task) {
    if (busy) return;
    busy = true;
    try {
      await task();
    } finally {
      busy = false;
    }
  }

  function canPick() {
    return typeof window.showSaveFilePicker === 'function';
  }

  function say(text) {
    byId('zip-notice-text').textContent = text;
    notice.hidden = false;
  }

  function hide() {
    notice.hidden = true;
    state.pending = null;
  }

  function metadataRow(photo, file) {
    const f = photo.fields;
    const c = data.columns;
    const i = photo.index;
    const cell = data.cellOf[i];
    const cluster = c.cluster[i];
    return [photo.id, photo.city, file, f.url, f.title, f.price, f.beds, f.sqft, f.neighbourhood,
      f.posted, f.post_id, Math.floor(cell / config.cols), cell % config.cols,
      code(data.index.bins, c.bin[i]), code(data.index.classes, c.predicted[i]), photo.probability,
      cluster >= 0 ? cluster : null, code(data.index.labels, c.label[i])].map(csvField).join(',');
  }

  // The ZIP's entries, fetched as the writer asks for them: the photos, then metadata.csv and,
  // when a photo could not be fetched, missing.txt.
  async function* entries(photos, signal, progress) {
    const used = new Set(['metadata.csv', 'missing.txt']);
    const rows = [COLUMNS.join(',')];
    const missing = [];
    const fetchOne = (photo) => {
      if (photo.file === null) return Promise.resolve({ photo: photo, reason: noFileReason(data, photo) });
      return fetch(photo.file, { signal: signal }).then(async (response) => {
        if (!response.ok) return { photo: photo, reason: fetchReason(response, null) };
        // Read whole, so a connection lost mid-photo lists that photo instead of ending the ZIP.
        const blob = await response.blob();
        const modified = new Date(response.headers.get('Last-Modified') || NaN);
        return { photo: photo, blob: blob, modified: isNaN(modified) ? new Date() : modified };
      }).catch((error) => {
        if (signal.aborted) throw error;
        return { photo: photo, reason: fetchReason(null, error) };
      });
    };
    const queue = [];
    let next = 0;
    let written = 0;
    const ahead = (photo) => {
      const request = fetchOne(photo);
      request.catch(() => {}); // a cancelled export stops at the first; the rest need no report
      queue.push(request);
    };
    while (next < photos.length && queue.length < AHEAD) ahead(photos[next++]);
    while (queue.length > 0) {
      const got = await queue.shift();
      signal.throwIfAborted(); // also when every photo is in and only the writing is left
      if (next < photos.length) ahead(photos[next++]);
      let file = '';
      if (got.blob !== undefined) {
        file = uniquePath(entryPath(got.photo.file), used);
        yield { name: file, input: got.blob, lastModified: got.modified };
        written += got.blob.size;
      } else {
        missing.push([got.photo.id, got.reason].map((v) => v.replace(/[\t\r\n]/g, ' ')).join('\t'));
      }
      rows.push(metadataRow(got.photo, file));
      progress(rows.length - 1, missing.length, written);
    }
    yield { name: 'metadata.csv', input: rows.join('\n') + '\n', lastModified: new Date() };
    if (missing.length > 0) {
      yield { name: 'missing.txt', input: 'id\treason\n' + missing.join('\n') + '\n', lastModified: new Date() };
    }
  }

  // Writes the ZIP of `photos`; `picked` is a file handle from the save picker, or null for a Blob.
  async function run(photos, picked) {
    const controller = new AbortController();
    state.running = controller;
    button.disabled = true;
    let missed = 0;
    const progress = (done, missing, written) => {
      missed = missing;
      say('Writing ' + ZIP_NAME + ': ' + formatNumber(done) + ' of ' + formatNumber(photos.length) +
        ' photos (' + formatBytes(written) + ')' + (missing ? ', ' + formatNumber(missing) + ' missing' : '') + '.');
    };
    progress(0, 0, 0);
    byId('zip-start').hidden = true;
    try {
      const { makeZip } = await import('../lib/client-zip/index.js');
      const stream = makeZip(entries(photos, controller.signal, progress));
      if (picked !== null) {
        // pipeTo closes the file when the stream ends and discards it if the stream fails.
        await stream.pipeTo(await picked.createWritable(), { signal: controller.signal });
      } else {
        download(ZIP_NAME, 'application/zip', await new Response(stream).blob());
      }
      hide();
      status('Saved ' + ZIP_NAME + ': ' + formatNumber(photos.length - missed) + ' photos' +
        (missed ? '; ' + formatNumber(missed) + ' could not be fetched, listed in missing.txt' : '') + '.');
    } catch (error) {
      hide();
      status(controller.signal.aborted ? 'ZIP export cancelled.' : 'The ZIP could not be written: ' + error.message);
    } finally {
      state.running = null;
      button.disabled = false;
      byId('zip-start').hidden = false;
    }
  }

  // Asks where to save (when the browser can write to a file), then writes.
  async function start(photos, askAgain) {
    hide();
    let picked = null;
    if (canPick()) {
      try {
        picked = await window.showSaveFilePicker({
          suggestedName: ZIP_NAME, types: [{ description: 'ZIP archive', accept: { 'application/zip': ['.zip'] } }],
        });
      } catch (error) {
        if (error.name === 'AbortError') {
          status('ZIP export cancelled.');
          return;
        }
        // The click that started it is too long ago for the browser to open a picker: one more.
        if (error.name === 'SecurityError' && askAgain) {
          confirmFirst(photos, formatNumber(photos.length) + ' photos are ready.');
          return;
        }
        picked = null;
      }
    }
    await run(photos, picked);
  }

  function confirmFirst(photos, text) {
    state.pending = photos;
    say(text);
    byId('zip-start').focus();
  }

  async function begin() {
    const indices = selection.indices();
    if (indices.length === 0) {
      status('Select photos first (rectangle, lasso or shift-click).');
      return;
    }
    let photos;
    try {
      photos = await data.photos(indices);
    } catch (error) {
      status('Could not load the photo details: ' + error.message);
      return;
    }
    const bytes = estimateBytes(photos);
    const limits = state.limits;
    const large = photos.length > limits.photos || (bytes !== null && bytes > limits.bytes);
    if (!large) {
      await start(photos, true);
      return;
    }
    const size = bytes === null ? 'of unknown size' : 'about ' + formatBytes(bytes);
    confirmFirst(photos, 'The ZIP of ' + formatNumber(photos.length) + ' original photos will be ' + size + '. ' +
      (canPick()
        ? 'It is written straight to the file you choose.'
        : 'This browser cannot write straight to a file, so the whole ZIP is held until it is saved ' +
          '(Chrome or Edge stream it to the file instead).'));
  }

  button.addEventListener('click', () => guarded(begin));
  byId('zip-start').addEventListener('click', () => guarded(async () => {
    if (state.pending !== null) await start(state.pending, false);
  }));
  byId('zip-cancel').addEventListener('click', () => {
    if (state.running !== null) state.running.abort();
    else hide();
  });
  return state;
}
