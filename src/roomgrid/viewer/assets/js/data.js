// The photo data: the index and typed columns loaded up front, per-photo details fetched in chunks.
// Layout and meaning of the files: see roomgrid/viewer.py.

const TYPED = { int32: Int32Array, int16: Int16Array, uint16: Uint16Array, uint8: Uint8Array };

async function fetchOk(url, kind) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
  return kind === 'json' ? response.json() : response.arrayBuffer();
}

export async function loadData() {
  const [index, buffer] = await Promise.all([
    fetchOk('data/index.json', 'json'), fetchOk('data/grid.bin', 'bytes')]);
  const columns = {};
  for (const [name, spec] of Object.entries(index.columns)) {
    columns[name] = new TYPED[spec.type](buffer, spec.offset, spec.length);
  }
  return new PhotoData(index, columns);
}

export class PhotoData {
  constructor(index, columns) {
    this.index = index;
    this.count = index.photos;
    this.cities = index.cities;
    this.cityStarts = index.cities.map((c) => c.start);
    this.columns = columns;
    this.cells = columns.cells;
    this.chunkStarts = index.chunks;
    this.chunks = new Map(); // chunk number -> Promise of its JSON
    // Reverse of cells: photo index -> cell number.
    this.cellOf = new Int32Array(this.count);
    for (let cell = 0; cell < this.cells.length; cell++) {
      if (this.cells[cell] >= 0) this.cellOf[this.cells[cell]] = cell;
    }
  }

  cityOf(photo) {
    return this.cities[upperBound(this.cityStarts, photo) - 1];
  }

  chunkNumber(photo) {
    return upperBound(this.chunkStarts, photo) - 1;
  }

  loadChunk(number) {
    if (!this.chunks.has(number)) {
      const request = fetchOk('data/chunks/' + number + '.json', 'json');
      // A failed chunk may be retried by the next request.
      request.catch(() => this.chunks.delete(number));
      this.chunks.set(number, request);
    }
    return this.chunks.get(number);
  }

  // Details of one photo: id, listing fields, photo URL (or null), neighbours, probability and
  // the size of its file when the build saw it (or null).
  async photo(index) {
    const number = this.chunkNumber(index);
    const chunk = await this.loadChunk(number);
    return this.fromChunk(chunk, index);
  }

  fromChunk(chunk, index) {
    const local = index - chunk.start;
    const listing = chunk.listing[local];
    const fields = {};
    for (const [name, values] of Object.entries(chunk.listings)) {
      fields[name] = listing >= 0 ? values[listing] : null;
    }
    const city = this.cityOf(index);
    const id = chunk.ids[local];
    let file = null;
    if (city.linked) {
      const special = chunk.files[String(local)];
      if (special === undefined) file = 'photos/' + id.split('/').map(encodeURIComponent).join('/');
      else if (special !== null) {
        file = 'photos/' + encodeURIComponent(city.name) + '/' +
          special.split('/').map(encodeURIComponent).join('/');
      }
    }
    return {
      index: index, id: id, city: city.name, fields: fields, file: file,
      neighbours: chunk.neighbours[local],
      probability: chunk.probability ? chunk.probability[local] : null,
      bytes: chunk.bytes ? chunk.bytes[local] : null,
    };
  }

  // Details of many photos, fetching each chunk they fall in once.
  async photos(indices) {
    const numbers = new Set(indices.map((i) => this.chunkNumber(i)));
    await Promise.all([...numbers].map((n) => this.loadChunk(n)));
    return Promise.all(indices.map((i) => this.photo(i)));
  }

  // Every chunk (for search); onProgress(loaded, total) is called as they arrive.
  async allChunks(onProgress) {
    let loaded = 0;
    return Promise.all(this.chunkStarts.map((_, number) => this.loadChunk(number).then((chunk) => {
      loaded += 1;
      if (onProgress) onProgress(loaded, this.chunkStarts.length);
      return chunk;
    })));
  }

  // The clusters panel's data (data/clusters.json), fetched once on first use; a failure may be retried.
  loadClusters() {
    if (!this.clustersRequest) {
      this.clustersRequest = fetchOk('data/clusters.json', 'json');
      this.clustersRequest.catch(() => { this.clustersRequest = null; });
    }
    return this.clustersRequest;
  }

  // The place names of the clusters (data/places.json), fetched once the first tiles are in.
  loadPlaces() {
    return fetchOk('data/places.json', 'json');
  }

  // Ids of the clusters' photos that are not on the map (only the clusters CSV export needs them).
  loadClusterMembers() {
    return fetchOk('data/cluster_members.json', 'json');
  }

  // Photo index of an id, or -1: the id's city (its first path segment) narrows the chunks read.
  async findId(id) {
    const city = this.cities.find((c) => id.startsWith(c.name + '/'));
    const numbers = [];
    this.chunkStarts.forEach((start, number) => {
      const end = number + 1 < this.chunkStarts.length ? this.chunkStarts[number + 1] : this.count;
      if (!city || (start < city.start + city.count && end > city.start)) numbers.push(number);
    });
    for (const number of numbers) {
      const chunk = await this.loadChunk(number);
      const local = chunk.ids.indexOf(id);
      if (local >= 0) return chunk.start + local;
    }
    return -1;
  }
}

// Number of entries of the ascending array that are <= value.
function upperBound(sorted, value) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle] <= value) low = middle + 1; else high = middle;
  }
  return low;
}
